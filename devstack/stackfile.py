"""``<data_dir>/stack.json``: where a running ``impressox up`` serves, so other commands find it.

``impressox up`` writes it once everything answers and removes it when it stops; a file whose
``pid`` is gone (``up`` was killed) is stale and ignored. ``impressox chat``, ``worker``, ``api``,
``listener``, ``approve``, ``reject`` and ``sessions`` read it through :func:`with_stack`: an
address set in the environment (``IMPRESSOX_TEMPORAL_ADDRESS`` ...) still wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from core.files import write_json_atomic
from core.settings import Settings

FILE_NAME = "stack.json"
#: the settings a running stack provides (same names in the stack file)
STACK_SETTINGS = ("temporal_address", "redis_url", "chain_rpc_url")


class StackInfo(BaseModel):
    temporal_address: str
    api_url: str
    redis_url: str
    chain_rpc_url: str | None = None
    ui_url: str | None = None
    pid: int
    started_at: datetime | None = None
    #: each process's Prometheus endpoint (api, worker, listener, bot-*)
    metrics: dict[str, str] = Field(default_factory=dict)


def stack_file(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


def write_stack(data_dir: Path, info: StackInfo) -> Path:
    """Write the stack file atomically (a reader never sees half a file)."""
    path = stack_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, info.model_dump(mode="json"), indent=2)
    return path


def remove_stack(data_dir: Path, pid: int | None = None) -> None:
    """Remove the stack file (only ours when ``pid`` is given)."""
    current = read_stack(data_dir, live_only=False)
    if current is not None and pid is not None and current.pid != pid:
        return
    stack_file(data_dir).unlink(missing_ok=True)


def read_stack(data_dir: Path, *, live_only: bool = True) -> StackInfo | None:
    """The stack described in ``data_dir``; None if there is none (or, with ``live_only``, its ``up`` is gone)."""
    try:
        info = StackInfo.model_validate(json.loads(stack_file(data_dir).read_text()))
    except (OSError, ValueError, ValidationError):
        return None
    if live_only and not _alive(info.pid):
        return None
    return info


def with_stack(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, StackInfo | None]:
    """``settings`` pointed at the running stack of its data dir, for every address not set in ``environ``."""
    info = read_stack(settings.data_dir)
    if info is None:
        return settings, None
    if environ.get("IMPRESSOX_TEMPORAL_ADDRESS", info.temporal_address) != info.temporal_address:
        return settings, None  # pointed at another Temporal: this stack's API is not the one
    updates = {
        name: getattr(info, name)
        for name in STACK_SETTINGS
        if f"IMPRESSOX_{name.upper()}" not in environ and getattr(info, name) is not None
    }
    return settings.model_copy(update=updates), info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # a killed `up` not yet reaped by its parent is a zombie: gone for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"
