"""The workflow sandbox runner every worker and replayer uses.

It is temporalio's ``SandboxedWorkflowRunner`` with one change: the garbage collector is paused
while a sandbox is created, which is when the sandbox imports the workflow's module.

Why: on Python before 3.12 a module's import lock is not re-entrant (CPython gh-91351). If a
garbage collection runs inside the import machinery's lock window and a finalizer there imports
a module (a never-awaited coroutine's warning, an unclosed transport's ``ResourceWarning``), the
nested import clears the outer one's bookkeeping and the outer import fails with
``KeyError: <thread id>``. At worker start that surfaces as ``RuntimeError: Failed validating
workflow X`` and the worker does not start; later it fails a workflow task (temporalio
sdk-python #585). ``tests/test_sandbox.py`` provokes it on purpose. Creating a sandbox takes
milliseconds, so pausing collection (not reference counting) for that long costs nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

__all__ = ["WORKFLOW_RUNNER", "GcPausedSandboxRunner", "gc_paused"]

_lock = threading.Lock()
_holders = 0
_enable_after = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause cyclic garbage collection; nests and works across threads (sandboxes are created
    on the worker's workflow threads), and collection resumes when the last holder leaves."""
    global _holders, _enable_after
    with _lock:
        if _holders == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _enable_after:
                gc.enable()


class GcPausedSandboxRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose sandbox creation (and so worker-start validation, which
    creates one) runs with the garbage collector paused."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        with gc_paused():
            return super().create_instance(det)


WORKFLOW_RUNNER = GcPausedSandboxRunner()
