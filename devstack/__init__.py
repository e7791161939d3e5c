"""The local development stack: child-process launching, a throwaway Redis, the stack file.

Used by ``impressox up``, the tests and the benchmarks; production deployments do not need it.
"""
