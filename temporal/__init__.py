"""The worker assembly: the worker and the chain listener processes, built from every layer below."""
