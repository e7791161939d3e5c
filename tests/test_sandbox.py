"""A worker starts even when a garbage collection lands inside the sandbox's module import.

On Python before 3.12 a finalizer that imports, run by a collection inside the import lock's
window, breaks the outer import with ``KeyError: <thread id>`` (CPython gh-91351), and the worker
refuses to start with "Failed validating workflow" (it failed CI once). The tests make that
happen on purpose: one garbage cycle with such a finalizer is always pending and the collector
runs at nearly every allocation.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.client import Client
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import _Definition

from core.cache import Cache
from core.settings import Settings
from services.tools import load_tools
from temporal.sandbox import WORKFLOW_RUNNER, gc_paused
from temporal.worker import WORKFLOWS, build_worker


class _ImportingFinalizer:
    """A reference cycle whose finalizer imports a module that was never loaded (so the import
    takes a module lock) and leaves a new such cycle behind while ``active``."""

    active = False
    imports = 0

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        cls = type(self)
        cls.imports += 1
        try:
            __import__(f"impressox_absent_module_{cls.imports}")
        except ImportError:
            pass
        if cls.active:
            _ImportingFinalizer()


@contextmanager
def collections_inside_imports() -> Iterator[None]:
    thresholds = gc.get_threshold()
    _ImportingFinalizer.active = True
    _ImportingFinalizer()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        _ImportingFinalizer.active = False
        gc.collect()


def validation_failures(runner: SandboxedWorkflowRunner) -> list[BaseException]:
    failures: list[BaseException] = []
    with collections_inside_imports():
        for cls in WORKFLOWS:
            try:
                runner.prepare_workflow(_Definition.must_from_class(cls))
            except (KeyError, RuntimeError) as err:  # KeyError(<thread id>) is the bug's signature
                failures.append(err)
    return failures


async def test_the_stock_sandbox_fails_when_a_collection_imports_during_its_import() -> None:
    """The control: the provocation below really trips the CPython bug on this interpreter."""
    failures = validation_failures(SandboxedWorkflowRunner())
    if sys.version_info < (3, 12):
        assert failures, "the provocation no longer breaks the stock sandbox: temporal/sandbox.py may go"
        assert any(isinstance(f, KeyError) for f in failures), failures
    else:
        assert failures == []


async def test_our_sandbox_validates_every_workflow_under_the_same_provocation() -> None:
    before = _ImportingFinalizer.imports
    assert validation_failures(WORKFLOW_RUNNER) == []
    assert _ImportingFinalizer.imports > before, "the finalizer never ran: nothing was provoked"
    assert gc.isenabled()


async def test_the_worker_starts_under_the_provocation(client: Client, settings: Settings, cache: Cache) -> None:
    registry = load_tools(settings.tool_modules)
    # loads the handler modules outside the provocation (its own queue: one worker per queue and client)
    build_worker(client, settings, registry, cache, task_queue=f"{settings.task_queue}-imports")
    with collections_inside_imports():
        worker = build_worker(client, settings, registry, cache)  # validates every workflow in a sandbox
    async with worker:
        pass


def test_collection_resumes_only_when_the_last_pause_ends() -> None:
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled(), "a pause must not switch on a collector that was off"
    finally:
        gc.enable()
