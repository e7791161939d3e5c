"""Keep a set of child processes running: restart the restartable ones with backoff, stop on the rest.

``impressox up`` puts the chain in as essential (its exit stops the stack) and the Temporal
server (its SQLite file keeps every workflow), the API, workers, listener and bots as restartable
(a crash is logged and the process comes back, after 0.5 s, then 1, 2, 4 ... up to 30 s while it
keeps crashing; a process that ran for a minute starts again from 0.5 s).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from devstack.processes import ManagedProcess

log = logging.getLogger("impressox.up")


@dataclass
class Supervised:
    name: str
    process: ManagedProcess
    restart: bool
    #: restarts so far (logged), and crashes in a row without a stable run (sets the backoff)
    restarts: int = 0
    streak: int = 0
    started: float = field(default_factory=time.monotonic)
    #: when a crashed child is due to start again
    due: float | None = None


class Supervisor:
    def __init__(self, *, first_delay: float = 0.5, max_delay: float = 30.0, stable_after: float = 60.0) -> None:
        self.children: list[Supervised] = []
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after

    def add(self, name: str, process: ManagedProcess, *, restart: bool) -> None:
        """Watch a started process; ``restart=False``: its exit stops the stack."""
        self.children.append(Supervised(name, process, restart))

    def check(self) -> str | None:
        """One round: schedule restarts of crashed children, start those due; the reason to stop, if any."""
        now = time.monotonic()
        for child in self.children:
            proc = child.process.proc
            if child.due is None and proc is not None and proc.poll() is not None:
                where = child.process.log_file or "no log file"
                if not child.restart:
                    return f"{child.name} exited with code {proc.returncode} (see {where})"
                child.streak = 1 if now - child.started >= self.stable_after else child.streak + 1
                delay = min(self.max_delay, self.first_delay * 2 ** (child.streak - 1))
                child.due = now + delay
                log.error(
                    "%s exited with code %s; restart %d in %.1fs (see %s)",
                    child.name,
                    proc.returncode,
                    child.restarts + 1,
                    delay,
                    where,
                )
            elif child.due is not None and now >= child.due:
                self._restart(child, now)
        return None

    def _restart(self, child: Supervised, now: float) -> None:
        child.restarts += 1
        child.due, child.started = None, now
        try:
            proc = child.process.relaunch()
        except OSError as exc:  # e.g. the executable went away: count it as another crash
            child.due = now + self.max_delay
            log.error("%s could not be restarted (%s); trying again in %.0fs", child.name, exc, self.max_delay)
            return
        log.warning("%s restarted (restart %d, pid %d)", child.name, child.restarts, proc.pid)

    def run(self, stop: threading.Event, interval: float = 0.5) -> int:
        """Watch until ``stop`` is set (0) or an essential child exits (1)."""
        while not stop.is_set():
            reason = self.check()
            if reason:
                log.error("stopping the stack: %s", reason)
                return 1
            stop.wait(interval)
        return 0

    def stop(self) -> None:
        """Stop every child, the last started first."""
        for child in reversed(self.children):
            child.process.stop()
