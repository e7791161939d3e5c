// The pending approval, pinned above the composer: what would happen (amount, recipient, the
// simulated balances before and after, the fee, the limit left today), a live countdown, and
// Approve / Reject. An approved transfer in its undo window gets a card of its own with Cancel.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { cancelTransfer, decide, getVault } from "../api/client";
import { ApiError } from "../api/http";
import type { PendingApproval, Simulation, ToolCallRecord } from "../api/types";
import { amount, countdown, sendsIn } from "../lib/format";

/** A decision (or a cancel), shown once per call and coloured by its outcome. */
export interface Decision {
  callId: string;
  /** approved: green; rejected (also cancelled, stale): red */
  approved: boolean;
  text: string;
}

function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function ApprovalCard({
  approval,
  sessionId,
  onDecided,
}: {
  approval: PendingApproval;
  sessionId: string;
  onDecided: (d: Decision) => void;
}) {
  const now = useNow();
  const vault = useQuery({ queryKey: ["vault"], queryFn: getVault, retry: false, staleTime: 10_000 });
  const a = approval.args as Record<string, unknown>;
  const token = String(a.token ?? "");
  const left = vault.data?.tokens.find((t) => t.symbol === token)?.remaining_today;
  const qc = useQueryClient();
  const sim = (approval.simulation ?? null) as Simulation | null;
  const shown = sim?.display ?? {};
  const reverts = sim?.will_revert === true;
  const decision = useMutation({
    mutationFn: (approve: boolean) => decide(sessionId, approval.call_id, approve),
    onSuccess: (out) =>
      onDecided({
        callId: approval.call_id,
        approved: out.approved,
        text: out.approved
          ? out.status === "scheduled"
            ? `Approved: it waits in the undo window (Cancel it below before it is sent)`
            : `Approved: ${out.result ?? out.status}`
          : `Rejected: ${out.result ?? "the transfer was not made"}`,
      }),
    onError: (err) => {
      // 409: the chain moved since the simulation shown; the call stays pending with a fresh one
      if (err instanceof ApiError && err.status === 409) {
        onDecided({
          callId: approval.call_id,
          approved: false,
          text: `${err.message} The card shows the chain as it is now: approve again or reject.`,
        });
        void qc.invalidateQueries({ queryKey: ["session", sessionId] });
      }
    },
  });
  const stale = decision.error instanceof ApiError && decision.error.status === 409;
  const expiry = countdown(approval.expires_at, now);
  return (
    <div className="approval" role="group" aria-label="Pending approval">
      <p className="approval-title">Approval needed: {approval.summary}</p>
      <dl>
        {a.amount != null && (
          <>
            <dt>Amount</dt>
            <dd>
              {amount(String(a.amount))} {token}
            </dd>
          </>
        )}
        {a.to != null && (
          <>
            <dt>Recipient</dt>
            <dd>
              <code title={String(a.to)}>{String(a.to)}</code>
            </dd>
          </>
        )}
        {shown.vault_balance_before && shown.vault_balance_after && (
          <>
            <dt>Vault balance</dt>
            <dd aria-label="Vault balance">
              {shown.vault_balance_before} → {shown.vault_balance_after}
            </dd>
          </>
        )}
        {shown.recipient_balance_before && shown.recipient_balance_after && (
          <>
            <dt>Recipient balance</dt>
            <dd aria-label="Recipient balance">
              {shown.recipient_balance_before} → {shown.recipient_balance_after}
            </dd>
          </>
        )}
        {shown.fee && (
          <>
            <dt>Network fee</dt>
            <dd title="paid by the platform's operator, not by the vault">{shown.fee}</dd>
          </>
        )}
        {shown.daily_limit_left_after ? (
          <>
            <dt>Limit left today after</dt>
            <dd>{shown.daily_limit_left_after}</dd>
          </>
        ) : left != null && (
          <>
            <dt>Vault limit left today</dt>
            <dd>
              {amount(left)} {token}
            </dd>
          </>
        )}
        <dt>Expires in</dt>
        <dd>{expiry}</dd>
      </dl>
      {reverts && (
        <p className="error-box" role="alert">
          This transfer would fail on-chain: {sim?.revert_reason ?? "the vault contract refuses it"}. It cannot be approved; reject it.
        </p>
      )}
      <div className="actions">
        <button type="button" className="approve" disabled={decision.isPending || expiry === "expired" || reverts} onClick={() => decision.mutate(true)}>
          Approve
        </button>
        <button type="button" className="reject" disabled={decision.isPending || expiry === "expired"} onClick={() => decision.mutate(false)}>
          Reject
        </button>
      </div>
      {decision.isPending && <p className="note">Sending the decision…</p>}
      {decision.error && !stale && (
        <p className="error-box" role="alert">
          {decision.error.message}: reload the page to see whether it was decided, then try again.
        </p>
      )}
    </div>
  );
}

/** An approved transfer in its undo window: what it sends, a live countdown, and Cancel. */
export function ScheduledCard({
  transfer,
  sessionId,
  onCancelled,
}: {
  transfer: ToolCallRecord;
  sessionId: string;
  onCancelled: (d: Decision) => void;
}) {
  const now = useNow(500);
  const qc = useQueryClient();
  const a = (transfer.args ?? {}) as Record<string, unknown>;
  const cancel = useMutation({
    mutationFn: () => cancelTransfer(sessionId, transfer.call_id),
    onSuccess: () =>
      onCancelled({ callId: transfer.call_id, approved: false, text: "Cancelled: nothing was sent." }),
    onError: (err) => {
      // 409 (or 404): it was sent, or decided elsewhere, before the cancel arrived
      if (err instanceof ApiError && (err.status === 409 || err.status === 404))
        onCancelled({ callId: transfer.call_id, approved: true, text: `Too late to cancel: ${err.message}` });
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ["session", sessionId] }),
  });
  const due = sendsIn(transfer.executes_at, now);
  const late = cancel.error instanceof ApiError && (cancel.error.status === 409 || cancel.error.status === 404);
  return (
    <div className="approval scheduled" role="group" aria-label="Scheduled transfer">
      <p className="approval-title">Approved transfer, in its undo window</p>
      <dl>
        {a.amount != null && (
          <>
            <dt>Amount</dt>
            <dd>
              {amount(String(a.amount))} {String(a.token ?? "")}
            </dd>
          </>
        )}
        {a.to != null && (
          <>
            <dt>Recipient</dt>
            <dd>
              <code title={String(a.to)}>{String(a.to)}</code>
            </dd>
          </>
        )}
      </dl>
      <div className="actions">
        <span className="countdown" role="timer" aria-label="Sends in">
          {due}
        </span>
        <button type="button" className="reject" disabled={cancel.isPending || cancel.isSuccess} onClick={() => cancel.mutate()}>
          Cancel
        </button>
      </div>
      {cancel.isPending && <p className="note">Cancelling…</p>}
      {cancel.error && !late && (
        <p className="error-box" role="alert">
          {cancel.error.message}: reload the page to see whether it was sent.
        </p>
      )}
    </div>
  );
}
