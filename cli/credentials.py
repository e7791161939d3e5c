"""The API key the CLI sends, and the CLI's memory of its last session.

A key comes from ``--api-key``, else ``IMPRESSOX_API_KEY``, else the file ``impressox login``
wrote in the data dir (``<data_dir>/cli/api_key``, mode 0600: only its owner can read it).
The last session ``impressox chat`` used is kept next to it, per API and key, so a second
``impressox chat`` continues that session instead of starting another one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from core.files import write_json_atomic

ENV = "IMPRESSOX_API_KEY"
#: how a user gives a key, named in every message about a missing or refused one
HOW = f"pass --api-key KEY, set {ENV}, or run `impressox login`"


def cli_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "cli"


def key_file(data_dir: Path) -> Path:
    return cli_dir(data_dir) / "api_key"


def resolve_key(flag: str | None, environ: Mapping[str, str], data_dir: Path) -> tuple[str | None, str]:
    """(the key, where it came from): the flag, the environment, the login file, or none."""
    if flag:
        return flag.strip(), "--api-key"
    if environ.get(ENV, "").strip():
        return environ[ENV].strip(), ENV
    try:
        stored = key_file(data_dir).read_text().strip()
    except OSError:
        stored = ""
    if stored:
        return stored, f"the key `impressox login` stored in {key_file(data_dir)}"
    return None, ""


def store_key(data_dir: Path, key: str) -> Path:
    """Write the key readable by its owner only (created 0600, never world-readable in between)."""
    path = key_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.strip() + "\n")
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return path


def forget_key(data_dir: Path) -> bool:
    path = key_file(data_dir)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


# ---------------------------------------------------------------------- last session
def _last_file(data_dir: Path) -> Path:
    return cli_dir(data_dir) / "last_sessions.json"


def _slot(where: str, key: str | None) -> str:
    """One last session per API and caller; the key itself is never written, only a digest."""
    who = hashlib.sha256((key or "").encode()).hexdigest()[:16]
    return f"{where}|{who}"


def last_session(data_dir: Path, where: str, key: str | None) -> dict[str, str] | None:
    """``{"session_id": ..., "agent": ...}`` of the last chat against ``where`` with ``key``."""
    try:
        known = json.loads(_last_file(data_dir).read_text())
    except (OSError, ValueError):
        return None
    last = known.get(_slot(where, key)) if isinstance(known, dict) else None
    if not isinstance(last, dict) or not isinstance(last.get("session_id"), str):
        return None
    return {k: str(v) for k, v in last.items()}


def remember_session(
    data_dir: Path, where: str, key: str | None, session_id: str | None, agent: str | None = None
) -> None:
    """Record (or with None, forget) the session ``impressox chat`` continues next time."""
    path = _last_file(data_dir)
    try:
        known = json.loads(path.read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    slot = _slot(where, key)
    if session_id is None:
        known.pop(slot, None)
    else:
        known[slot] = {"session_id": session_id, "agent": agent} if agent else {"session_id": session_id}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, known, indent=2)
    except OSError:
        pass  # a read-only data dir: the next chat starts a new session, nothing worse
