"""Temporal plumbing: the one client factory, the worker, the dev-server launcher (see README.md)."""
