"""The session's money path, kept out of the agent loop: bound approvals, the undo window, the
freeze's withdrawal of pending approvals, and the audit record of every money-moving call.

The order of a transfer (agent_session.AgentSessionWorkflow._tool):

1. ``tool.check`` validates it and simulates it on-chain; a transfer that would fail is refused
   before anyone is asked. The pending approval carries the simulation and the binding (chain id,
   vault, token, recipient, amount, reference, expiry) that the approving signature covers.
2. Approving re-runs the check (``tool.recheck``, in the ``decide_approval`` update): a transfer
   that would now fail, or whose effect differs from what was shown (the fee aside), is refused
   with the reason and stays pending with the fresh simulation.
3. Approved transfers at or above the undo threshold wait on a durable timer (status
   ``scheduled``, ``executes_at``); a cancel inside the window ends it with nothing sent. The
   timer is the last thing before the send: once the tool activity started, nothing here cuts it.
4. The tool activity verifies the signature and the binding, then sends exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.activity_names import TOOL_RECHECK
    from core.policies import CHECK_ATTEMPTS, retry_policy
    from core.schemas import (
        ApprovalDecision,
        AuditEntry,
        PendingApproval,
        SessionState,
        ToolCallRecord,
        ToolCheck,
        ToolInput,
    )

#: patch: an approving decision re-runs the transfer's check first (a new activity in the update)
RECHECK_ON_APPROVE = "recheck-on-approve"
#: patch: approved transfers above the threshold wait out an undo window (a new timer)
UNDO_WINDOW = "undo-window"
#: how long a signed binding stays usable past the approval's own expiry and undo window
#: (a worker down for a while still sends an approved transfer; a week-old approval does not)
BINDING_GRACE = timedelta(hours=1)
#: audit entries a session keeps (oldest dropped)
AUDIT_KEPT = 500
#: the fields a re-simulation must reproduce (chain/simulation.py EFFECT_FIELDS; kept here so the
#: workflow sandbox never imports web3)
EFFECT_FIELDS = (
    "vault_balance_before",
    "vault_balance_after",
    "recipient_balance_before",
    "recipient_balance_after",
    "daily_limit_left_after",
    "will_revert",
)


class StaleApprovalError(ApplicationError):
    """What ``decide_approval`` fails with when the chain no longer matches what was shown (409)."""


def simulation_text(sim: dict[str, Any] | None) -> str:
    """The simulation in one sentence for a chat message (bots, CLI)."""
    if not sim:
        return ""
    d = sim.get("display") or {}
    if sim.get("will_revert"):
        return f" Simulation: it would fail ({sim.get('revert_reason')})."
    return (
        f" Simulation: vault {d.get('vault_balance_before')} -> {d.get('vault_balance_after')}; recipient "
        f"{d.get('recipient_balance_before')} -> {d.get('recipient_balance_after')}; fee {d.get('fee')} (paid by "
        f"the platform); left of today's limit after: {d.get('daily_limit_left_after')}."
    )


def effect_changed(shown: dict[str, Any] | None, fresh: dict[str, Any] | None) -> str | None:
    """Why a fresh simulation no longer matches the one shown (None: it does, the fee aside)."""
    if not shown or not fresh:
        return None
    if fresh.get("will_revert"):
        return f"the transfer would now fail: {fresh.get('revert_reason') or 'the vault would refuse it'}"
    changed = [k for k in EFFECT_FIELDS if str(shown.get(k)) != str(fresh.get(k))]
    if not changed:
        return None
    old, new = shown.get("display") or {}, fresh.get("display") or {}
    parts = [f"{k.replace('_', ' ')} {old.get(k, shown.get(k))} -> {new.get(k, fresh.get(k))}" for k in changed]
    return "the chain changed since this approval was shown (" + "; ".join(parts) + ")"


class TransferGuard:
    """Per-session state of the money path (lives in the workflow; the audit list in SessionState)."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        #: approved transfers waiting out their undo window
        self.scheduled: dict[str, ToolCallRecord] = {}
        #: call id -> why it was cancelled (by the user in the window, or withdrawn by a freeze)
        self.cancelled: dict[str, str] = {}
        #: pending approvals withdrawn by a freeze: call id -> reason
        self.withdrawn: dict[str, str] = {}
        #: approvals being re-checked right now (a second decision meanwhile is refused)
        self.deciding: set[str] = set()

    # ------------------------------------------------------------ approval
    def pending(self, base: PendingApproval, checked: ToolCheck | None) -> PendingApproval:
        """The pending approval with the check's simulation and the binding the signature covers."""
        if checked is None or checked.binding is None:
            return base
        expires = base.expires_at + timedelta(seconds=checked.undo_seconds) + BINDING_GRACE
        binding = {**checked.binding, "expires_at": expires.isoformat()}
        self._entry(base.call_id, base.tool).simulation = checked.simulation
        return base.model_copy(update={"simulation": checked.simulation, "binding": binding})

    def asked(self, pending: PendingApproval) -> None:
        entry = self._entry(pending.call_id, pending.tool)
        entry.args, entry.summary, entry.turn = pending.args, pending.summary, pending.turn
        entry.requested_at, entry.simulation, entry.binding = pending.requested_at, pending.simulation, pending.binding
        entry.status = "awaiting_approval"

    async def recheck(self, pendings: dict[str, PendingApproval], call_id: str, inp: ToolInput) -> None:
        """Re-run the check before an approval counts; raises StaleApprovalError (the update fails,
        the call stays pending with the fresh simulation) when the chain disagrees with what was shown."""
        pending = pendings[call_id]
        self.deciding.add(call_id)
        try:
            fresh = await workflow.execute_activity(
                TOOL_RECHECK,
                inp,
                result_type=ToolCheck,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=retry_policy(CHECK_ATTEMPTS),
            )
        finally:
            self.deciding.discard(pending.call_id)
        why = fresh.refused or effect_changed(pending.simulation, fresh.simulation)
        if why is None:
            return
        sim = fresh.simulation or {**(pending.simulation or {}), "will_revert": True, "revert_reason": fresh.refused}
        updated = pending.model_copy(update={"simulation": sim})
        self._entry(pending.call_id, pending.tool).simulation = updated.simulation
        if call_id in pendings:  # still pending (it may have expired meanwhile): show the fresh effect
            pendings[call_id] = updated
        raise StaleApprovalError(
            f"approval refused: {why}. Nothing was sent; the transfer waits for a fresh approval of what "
            "the chain shows now.",
            {"simulation": updated.simulation},
            type="ApprovalStale",
            non_retryable=True,
        )

    def decided(self, decision: ApprovalDecision) -> None:
        entry = next((e for e in self.state.audit if e.call_id == decision.call_id), None)
        if entry is not None:
            entry.decision = decision.model_copy(update={"signature": None})  # the HMAC stays out of the audit

    def refusal(self, record: ToolCallRecord, approved: bool | None) -> None:
        """A call that was not approved: rejected, expired, cancelled or withdrawn by a freeze."""
        cid = record.call_id
        if cid in self.withdrawn:
            record.status = "withdrawn"
            record.result = f"The {record.name} was withdrawn: {self.withdrawn.pop(cid)}; nothing was sent."
        elif cid in self.cancelled:
            record.status = "cancelled"
            record.result = (
                f"The {record.name} was cancelled before approval ({self.cancelled.pop(cid)}); nothing was sent."
            )
        else:
            record.status = "rejected" if approved is False else "expired"
            record.result = f"The {record.name} was not approved ({record.status}); nothing was done."

    # ------------------------------------------------------------ undo window
    async def undo_window(self, record: ToolCallRecord, seconds: float) -> bool:
        """Wait out the undo window on a durable timer; False when it was cancelled (nothing sent)."""
        record.status, record.executes_at = "scheduled", workflow.now() + timedelta(seconds=seconds)
        entry = self._entry(record.call_id, record.name)
        entry.undo_seconds, entry.executes_at, entry.status = seconds, record.executes_at, "scheduled"
        self.scheduled[record.call_id] = record
        try:
            await workflow.wait_condition(lambda: record.call_id in self.cancelled, timeout=timedelta(seconds=seconds))
        except TimeoutError:
            record.status = "ok"
            return True
        finally:
            self.scheduled.pop(record.call_id, None)
        why = self.cancelled.pop(record.call_id)
        record.status = "cancelled"
        record.result = f"The {record.name} was cancelled during its undo window ({why}); nothing was sent."
        return False

    def cancel(self, call_id: str, why: str) -> None:
        self.cancelled[call_id] = why

    def withdraw_all(self, pending: dict[str, PendingApproval], decisions: dict[str, bool], why: str) -> None:
        """A freeze: every pending approval is withdrawn, every scheduled transfer cancelled."""
        for cid in pending:
            if cid not in decisions:
                self.withdrawn[cid] = why
                decisions[cid] = False
        for cid in self.scheduled:
            self.cancelled[cid] = why

    # ------------------------------------------------------------ audit
    def finished(self, record: ToolCallRecord, receipt: dict[str, Any] | None) -> None:
        entry = next((e for e in self.state.audit if e.call_id == record.call_id), None)
        if entry is None:
            return
        entry.status, entry.result, entry.receipt = record.status, record.result, receipt

    def _entry(self, call_id: str, tool: str) -> AuditEntry:
        entry = next((e for e in self.state.audit if e.call_id == call_id), None)
        if entry is None:
            entry = AuditEntry(call_id=call_id, tool=tool)
            self.state.audit.append(entry)
            del self.state.audit[:-AUDIT_KEPT]
        return entry
