"""Process-wide interpreter settings that imports must not change behind our back.

``py_ecc`` (imported by web3) calls ``sys.setrecursionlimit(100000)`` at import. With that limit a
recursive parser (``json.loads`` on ``[[[[...`` 70,000 deep) overflows the C stack and the
process dies with SIGSEGV instead of raising RecursionError. So a process that takes untrusted
input imports web3 once, here, and puts the limit back.
"""

from __future__ import annotations

import sys

#: CPython's default; deep enough for pydantic, litellm and web3 in normal use
SANE_RECURSION_LIMIT = 1000


def import_web3_with_sane_recursion_limit() -> None:
    """Import web3 (and so py_ecc) now if nothing has, then bring the recursion limit back to at
    most CPython's default. Later imports of web3 are cache hits and leave the limit alone."""
    before = sys.getrecursionlimit()
    import web3  # noqa: F401

    sys.setrecursionlimit(min(before, SANE_RECURSION_LIMIT))
