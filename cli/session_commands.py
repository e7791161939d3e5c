"""``impressox sessions [--json]``, ``impressox sessions end ID...|--idle AGE`` and ``impressox login``."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli import credentials
from cli.backend import Backend
from core.errors import BadInputError, NotFoundError
from services.sessions import SessionSummary

#: statuses of a session that no longer runs (sending to it reopens it)
ENDED = ("completed", "terminated", "canceled", "failed", "timed_out")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
TITLE_WIDTH = 40


def parse_age(text: str) -> timedelta:
    """``30m``, ``12h``, ``1d``, ``2w`` as a timedelta."""
    m = _AGE.match(text or "")
    if not m:
        raise BadInputError(f"--idle {text!r}: give an age like 30m, 12h, 1d or 2w")
    return timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


async def sessions(backend: Backend, args: argparse.Namespace) -> int:
    if getattr(args, "sessions_command", None) == "end":
        return await end(backend, args.session_ids, args.idle)
    return await list_sessions(backend, as_json=getattr(args, "json", False))


async def list_sessions(backend: Backend, as_json: bool = False) -> int:
    listed = sorted(await backend.sessions(), key=_recency, reverse=True)
    if as_json:
        print(json.dumps([s.model_dump(mode="json") for s in listed], indent=2))
        return 0
    if not listed:
        print("no sessions yet (start one with `impressox chat`)")
        return 0
    now = datetime.now(UTC)
    rows = [
        (
            s.session_id,
            _clip(s.title or "(no messages yet)"),
            s.agent or "-",
            s.status,
            _ago(now, s.last_active_at or s.started_at),
        )
        for s in listed
    ]
    header = ("SESSION", "TITLE", "AGENT", "STATUS", "LAST ACTIVE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


async def end(backend: Backend, session_ids: list[str], idle: str | None) -> int:
    if bool(session_ids) == bool(idle):
        raise BadInputError("`impressox sessions end` takes session ids or --idle AGE (e.g. --idle 1d), not both")
    targets = list(session_ids)
    if idle:
        cutoff = datetime.now(UTC) - parse_age(idle)
        targets = [
            s.session_id
            for s in await backend.sessions()
            if s.status not in ENDED and (s.last_active_at or s.started_at or cutoff) < cutoff
        ]
        if not targets:
            print(f"no running session has been idle for {idle}")
            return 0
    failed = 0
    for sid in targets:
        try:
            await backend.end(sid)
            print(f"ended {sid}")
        except NotFoundError as exc:
            failed += 1
            print(f"impressox: {exc}", file=sys.stderr)
    return 1 if failed else 0


def read_key(flag: str | None, from_stdin: bool) -> str:
    if flag:
        return flag.strip()
    if from_stdin or not sys.stdin.isatty():
        key = sys.stdin.readline().strip()
    else:
        key = getpass.getpass("API key: ").strip()
    if not key:
        raise BadInputError("no API key given (type it at the prompt, pipe it with --stdin, or pass --api-key KEY)")
    return key


async def login(backend: Backend, data_dir: Path, key: str) -> int:
    """Check the key against the stack's API (when one runs), then store it for the other commands."""
    checked = ""
    if backend.where.startswith("http"):
        await backend.sessions()  # a refused key raises the one-line KeyRequiredError
        checked = f" (accepted by {backend.where})"
    path = credentials.store_key(data_dir, key)
    print(f"stored the API key in {path}{checked}; `impressox logout` forgets it")
    return 0


def _recency(s: SessionSummary) -> float:
    at = s.last_active_at or s.started_at
    return at.timestamp() if at else 0.0


def _clip(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= TITLE_WIDTH else one_line[: TITLE_WIDTH - 1] + "…"


def _ago(now: datetime, at: datetime | None) -> str:
    if at is None:
        return "-"
    seconds = max(0, int((now - at).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"
