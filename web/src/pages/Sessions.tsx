import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { createSession, decide, getSession, getVault, listAgents, listSessions, newMessageId, sendMessage } from "../api/client";
import { ApiError } from "../api/http";
import type { ChatMessage, PendingApproval, ToolCallRecord } from "../api/types";
import { amount, ago, countdown, newestFirst, txHash } from "../lib/format";
import { Markdown } from "../Markdown";
import { sessionHref } from "../route";

export function SessionsPage({ sessionId }: { sessionId: string | null }) {
  return (
    <div className="sessions">
      <SessionList current={sessionId} />
      {sessionId ? <Chat key={sessionId} sessionId={sessionId} /> : <p className="hint">Start a new session or open one.</p>}
    </div>
  );
}

function SessionList({ current }: { current: string | null }) {
  const qc = useQueryClient();
  const agents = useQuery({ queryKey: ["agents"], queryFn: listAgents, staleTime: 60_000 });
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: listSessions, refetchInterval: 10_000 });
  const [agent, setAgent] = useState("");
  const create = useMutation({
    mutationFn: () => createSession(agent || agents.data?.[0]?.name || "assistant"),
    onSuccess: (made) => {
      qc.invalidateQueries({ queryKey: ["sessions"] });
      window.location.hash = sessionHref(made.session_id);
    },
  });
  const items = newestFirst(sessions.data ?? [], (s) => s.started_at);
  return (
    <aside className="session-list" aria-label="Sessions">
      <div className="new-session">
        <label htmlFor="agent">Agent</label>
        <select id="agent" value={agent} onChange={(e) => setAgent(e.target.value)} disabled={!agents.data}>
          {(agents.data ?? []).map((a) => (
            <option key={a.name} value={a.name} title={a.description}>
              {a.name}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => create.mutate()} disabled={!agents.data || create.isPending}>
          New session
        </button>
      </div>
      {create.error && <p className="error" role="alert">{create.error.message}</p>}
      {sessions.error && <p className="error">{sessions.error.message}</p>}
      <ul>
        {items.map((s) => (
          <li key={s.session_id}>
            <a href={sessionHref(s.session_id)} aria-current={s.session_id === current ? "page" : undefined}>
              <span className="agent">{s.agent ?? "session"}</span>
              <span className={`platform platform-${s.platform ?? "unknown"}`}>{s.platform ?? "?"}</span>
              <span className="when">{ago(s.started_at)}</span>
              {s.status !== "RUNNING" && <span className="status-tag">{s.status.toLowerCase()}</span>}
            </a>
          </li>
        ))}
        {sessions.data && items.length === 0 && <li className="hint">No sessions yet.</li>}
      </ul>
    </aside>
  );
}

interface Live {
  messageId: string;
  text: string;
  reply: string;
  /** where each model step's tokens begin in `reply` (a `reset` of a retried step drops them) */
  starts: Record<number, number>;
  tools: ToolCallRecord[];
  note: string;
}

function Chat({ sessionId }: { sessionId: string }) {
  const qc = useQueryClient();
  const [live, setLive] = useState<Live | null>(null);
  const [notice, setNotice] = useState("");
  const [results, setResults] = useState<{ callId: string; text: string }[]>([]);
  const session = useQuery({
    queryKey: ["session", sessionId],
    queryFn: () => getSession(sessionId),
    refetchInterval: 2000,
  });
  const view = session.data;
  const inTranscript = (id: string) => view?.messages.some((m) => m.message_id === id && m.role === "assistant");
  // the live turn's bubble goes once the transcript holds its answer
  useEffect(() => {
    if (live && live.reply && inTranscript(live.messageId)) setLive(null);
  });

  const send = async (text: string) => {
    const messageId = newMessageId();
    setNotice("");
    setLive({ messageId, text, reply: "", starts: {}, tools: [], note: "thinking…" });
    const update = (f: (l: Live) => Live) => setLive((l) => (l && l.messageId === messageId ? f(l) : l));
    try {
      const out = await sendMessage(sessionId, text, messageId, (ev, d) => {
        const step = Number(d.step ?? 0);
        if (ev.event === "token")
          update((l) => ({
            ...l,
            starts: step in l.starts ? l.starts : { ...l.starts, [step]: l.reply.length },
            reply: l.reply + String(d.text ?? ""),
            note: "",
          }));
        else if (ev.event === "reset")
          update((l) => ({ ...l, reply: step in l.starts ? l.reply.slice(0, l.starts[step]) : l.reply }));
        else if (ev.event === "tool_call")
          update((l) => ({ ...l, note: `running ${String(d.name)}…`, tools: [...l.tools, toolOf(d, "running")] }));
        else if (ev.event === "tool_result")
          update((l) => ({
            ...l,
            note: "thinking…",
            tools: l.tools.map((t) => (t.call_id === d.call_id || (!d.call_id && t.name === d.name) ? toolOf({ ...t, ...d }, "ok") : t)),
          }));
        else if (ev.event === "approval_required") {
          update((l) => ({ ...l, note: "waiting for your approval" }));
          qc.invalidateQueries({ queryKey: ["session", sessionId] });
        }
      });
      if (out.kind === "pending") {
        update((l) => ({
          ...l,
          note:
            out.pending.status === "queued_behind_approval"
              ? "Queued behind approval: decide the pending approval and the reply follows."
              : "Still working: the reply will appear here.",
        }));
      } else {
        update((l) => ({ ...l, reply: out.reply, note: "" }));
      }
    } catch (err) {
      setLive(null);
      if (err instanceof ApiError && err.status === 429)
        setNotice(`Too many messages: try again in ${err.retryAfter ?? 1} s.`);
      else setNotice(err instanceof Error ? err.message : String(err));
    } finally {
      qc.invalidateQueries({ queryKey: ["session", sessionId] });
      qc.invalidateQueries({ queryKey: ["sessions"] });
    }
  };

  if (session.error instanceof ApiError && session.error.status === 404)
    return <p className="error">This session does not exist (or is not yours).</p>;
  const messages = (view?.messages ?? []).filter((m) => !(live && m.message_id === live.messageId));
  // queued_messages counts the messages waiting behind the turn being answered
  const queued = view?.status === "awaiting_approval" && (view.queued_messages > 0 || live?.note.startsWith("Queued"));
  return (
    <section className="chat" aria-label="Chat">
      <div className="chat-head">
        <strong>{view?.agent ?? "…"}</strong> <span className="platform">{view?.platform}</span>{" "}
        <span className="status-tag">{view?.status}</span>
        <code className="sid" title={sessionId}>{sessionId}</code>
      </div>
      <ol className="transcript" aria-live="polite">
        {messages.map((m, i) => (
          <Message key={`${m.turn}-${m.role}-${i}`} m={m} />
        ))}
        {live && (
          <>
            <li className="msg user">
              <div className="bubble">{live.text}</div>
            </li>
            {(live.reply || live.tools.length > 0 || live.note) && (
              <li className="msg assistant">
                {live.tools.map((t) => <ToolCard key={t.call_id} call={t} />)}
                {live.reply && <div className="bubble"><Markdown text={live.reply} /></div>}
                {live.note && <p className="note" role="status">{live.note}</p>}
              </li>
            )}
          </>
        )}
      </ol>
      {results.map((r) => (
        <p key={r.callId} className="result" role="status">
          {r.text}
        </p>
      ))}
      {view?.pending_approvals.map((p) => (
        <ApprovalCard
          key={p.call_id}
          approval={p}
          onDecided={(text) => {
            setResults((rs) => [...rs, { callId: p.call_id, text }]);
            qc.invalidateQueries({ queryKey: ["session", sessionId] });
          }}
          sessionId={sessionId}
        />
      ))}
      {queued && <p className="note" role="status">A message is queued behind approval: decide it and the reply follows.</p>}
      {notice && <p className="error" role="alert">{notice}</p>}
      <Composer onSend={send} />
    </section>
  );
}

function toolOf(d: Record<string, unknown>, status: string): ToolCallRecord {
  return {
    call_id: String(d.call_id ?? d.name ?? Math.random()),
    name: String(d.name ?? "tool"),
    args: (d.args as Record<string, unknown>) ?? {},
    result: d.result == null ? null : String(d.result),
    status: (d.status as ToolCallRecord["status"]) ?? (status as ToolCallRecord["status"]),
  };
}

function Message({ m }: { m: ChatMessage }) {
  return (
    <li className={`msg ${m.role}`}>
      {(m.tool_calls ?? []).map((t) => <ToolCard key={t.call_id} call={t} />)}
      {m.content && <div className="bubble">{m.role === "assistant" ? <Markdown text={m.content} /> : m.content}</div>}
    </li>
  );
}

/** A compact tool call: name, status and the short result; arguments and the full result on demand. */
export function ToolCard({ call }: { call: ToolCallRecord }) {
  const [open, setOpen] = useState(false);
  const hash = txHash(call.result);
  const short = call.result && call.result.length > 80 ? `${call.result.slice(0, 77)}…` : call.result;
  return (
    <div className={`tool tool-${call.status}`}>
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)} className="tool-head">
        <span className="tool-name">{call.name}</span> <span className="tool-status">{call.status}</span>
      </button>
      {hash ? <code className="tx">{hash}</code> : short && <span className="tool-result"> → {short}</span>}
      {open && (
        <div className="tool-body">
          <div>Arguments</div>
          <pre>{JSON.stringify(call.args, null, 2)}</pre>
          {call.result && (
            <>
              <div>Result</div>
              <pre>{call.result}</pre>
            </>
          )}
        </div>
      )}
    </div>
  );
}

function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function ApprovalCard({
  approval,
  sessionId,
  onDecided,
}: {
  approval: PendingApproval;
  sessionId: string;
  onDecided: (text: string) => void;
}) {
  const now = useNow();
  const vault = useQuery({ queryKey: ["vault"], queryFn: getVault, retry: false, staleTime: 10_000 });
  const a = approval.args as Record<string, unknown>;
  const token = String(a.token ?? "");
  const left = vault.data?.tokens.find((t) => t.symbol === token)?.remaining_today;
  const decision = useMutation({
    mutationFn: (approve: boolean) => decide(sessionId, approval.call_id, approve),
    onSuccess: (out) =>
      onDecided(out.approved ? `Approved: ${out.result ?? out.status}` : `Rejected: ${out.result ?? "the transfer was not made"}`),
  });
  const expiry = countdown(approval.expires_at, now);
  return (
    <div className="approval" role="group" aria-label="Pending approval">
      <p className="approval-title">Approval needed: {approval.summary}</p>
      <dl>
        {a.amount != null && (
          <>
            <dt>Amount</dt>
            <dd>{amount(String(a.amount))} {token}</dd>
          </>
        )}
        {a.to != null && (
          <>
            <dt>Recipient</dt>
            <dd><code title={String(a.to)}>{String(a.to)}</code></dd>
          </>
        )}
        {left != null && (
          <>
            <dt>Vault limit left today</dt>
            <dd>{amount(left)} {token}</dd>
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
      {decision.isPending && <p className="note" role="status">Sending the decision…</p>}
      {decision.error && <p className="error" role="alert">{decision.error.message}</p>}
    </div>
  );
}

function Composer({ onSend }: { onSend: (text: string) => Promise<void> }) {
  const [text, setText] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    setText("");
    void onSend(t);
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor="message" className="sr-only">
        Message
      </label>
      <textarea
        id="message"
        rows={2}
        value={text}
        placeholder='Try "what is 17 * 23?" or "send 0.01 ETH to 0x…"'
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) submit(e);
        }}
        autoFocus
      />
      <button type="submit">Send</button>
    </form>
  );
}
