// The pending approval, pinned above the composer: what would happen (amount, recipient, the
// vault's limit left today), a live countdown, and Approve / Reject.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { decide, getVault } from "../api/client";
import type { PendingApproval } from "../api/types";
import { amount, countdown } from "../lib/format";

/** A decision, shown once (per call) and coloured by its outcome. */
export interface Decision {
  callId: string;
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
  const decision = useMutation({
    mutationFn: (approve: boolean) => decide(sessionId, approval.call_id, approve),
    onSuccess: (out) =>
      onDecided({
        callId: approval.call_id,
        approved: out.approved,
        text: out.approved ? `Approved: ${out.result ?? out.status}` : `Rejected: ${out.result ?? "the transfer was not made"}`,
      }),
  });
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
        {left != null && (
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
      <div className="actions">
        <button type="button" className="approve" disabled={decision.isPending || expiry === "expired"} onClick={() => decision.mutate(true)}>
          Approve
        </button>
        <button type="button" className="reject" disabled={decision.isPending || expiry === "expired"} onClick={() => decision.mutate(false)}>
          Reject
        </button>
      </div>
      {decision.isPending && <p className="note">Sending the decision…</p>}
      {decision.error && (
        <p className="error-box" role="alert">
          {decision.error.message}: reload the page to see whether it was decided, then try again.
        </p>
      )}
    </div>
  );
}
