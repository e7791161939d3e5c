"""Secret key files in the data dir (``<data_dir>/keys/``), created on first use.

The API, the workers and the listener read the same files, so whichever
process needs a key first creates it; the write is atomic (a private temporary file
hard-linked into place), so two processes starting at once still agree on one key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def key_file(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "keys" / name


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The file's text; when it does not exist yet, ``make()`` is written to it with mode 0600."""
    if path.is_file():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".new-")  # mkstemp files are 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(make())
        try:
            os.link(tmp, path)  # fails if another process won the race: then its key is the key
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text()
