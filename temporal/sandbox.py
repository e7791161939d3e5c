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

It also writes the bytecode of every workflow's package before its first sandbox. The sandbox
imports a workflow's module (and the workflow helpers beside it) again for every workflow run it
creates: for each session the worker takes back after its cache evicted it. Without a ``.pyc``
each of those imports compiles the source anew, about 60 % of a sandbox's cost (14 → 5 ms for the
session workflow), and ``PYTHONDONTWRITEBYTECODE`` (our Dockerfile sets it, as many images do)
stops Python from ever writing one. A read-only install keeps what it has.
"""

from __future__ import annotations

import compileall
import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import _Definition

__all__ = ["WORKFLOW_RUNNER", "GcPausedSandboxRunner", "gc_paused", "write_bytecode"]

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


_compiled: set[Path] = set()


def write_bytecode(module_name: str) -> None:
    """Write the ``.pyc`` of every module in ``module_name``'s folder (once per folder and process;
    py_compile writes even under PYTHONDONTWRITEBYTECODE, atomically, so workers starting together
    do not clash). A folder it cannot write to is left as it is: the sandbox then compiles."""
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if not file:
        return
    folder = Path(file).parent
    if folder in _compiled:
        return
    _compiled.add(folder)
    compileall.compile_dir(folder, maxlevels=0, quiet=2)


class GcPausedSandboxRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose sandbox creation (and so worker-start validation, which
    creates one) runs with the garbage collector paused, and whose workflows' modules have bytecode."""

    def prepare_workflow(self, defn: _Definition) -> None:
        # called once per workflow class when a worker (or replayer) starts, before any sandbox
        write_bytecode(defn.cls.__module__)
        super().prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        with gc_paused():
            return super().create_instance(det)


WORKFLOW_RUNNER = GcPausedSandboxRunner()
