"""The sandbox imports a workflow's module again for every workflow run it creates (each session a
worker takes back after its cache evicted it). Under PYTHONDONTWRITEBYTECODE (this machine, our
Dockerfile) nothing ever wrote a .pyc, so each of those imports compiled the source again: the
runner now writes the bytecode when a worker prepares its workflows."""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.workflow import _Definition

import temporal.sandbox
from temporal.sandbox import WORKFLOW_RUNNER, write_bytecode
from workflows.agent_session import AgentSessionWorkflow

WORKFLOW_SOURCE = """
from temporalio import workflow


@workflow.defn
class TinyWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "ok"
"""


@pytest.fixture
def compiled_sources(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths importlib compiles from source (no usable .pyc) while the test runs."""
    seen: list[str] = []
    original = importlib.machinery.SourceFileLoader.source_to_code

    def counting(self: Any, data: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(path))
        return original(self, data, path, *args, **kwargs)

    monkeypatch.setattr(importlib.machinery.SourceFileLoader, "source_to_code", counting)
    return seen


def test_write_bytecode_writes_pyc_files_even_when_python_would_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tiny_wf.py").write_text(WORKFLOW_SOURCE)
    (tmp_path / "tiny_helper.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    __import__("tiny_wf")
    assert not (tmp_path / "__pycache__").exists()  # Python itself wrote nothing
    write_bytecode("tiny_wf")
    written = sorted(p.name.split(".")[0] for p in (tmp_path / "__pycache__").glob("*.pyc"))
    assert written == ["tiny_helper", "tiny_wf"]


async def test_a_sandbox_for_an_evicted_session_compiles_no_source(
    compiled_sources: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as on a fresh clone where nothing wrote bytecode, and Python would not
    folder = Path(sys.modules[AgentSessionWorkflow.__module__].__file__ or "").parent
    for pyc in (folder / "__pycache__").glob("*.pyc"):
        pyc.unlink()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(temporal.sandbox, "_compiled", set())
    defn = _Definition.must_from_class(AgentSessionWorkflow)
    WORKFLOW_RUNNER.prepare_workflow(defn)  # what a worker does at start
    compiled_sources.clear()
    WORKFLOW_RUNNER.prepare_workflow(defn)  # a new sandbox, as for a session taken back from eviction
    assert [p for p in compiled_sources if "workflows" in p] == []
