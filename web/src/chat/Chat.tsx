// The chat view on assistant-ui: an ExternalStoreRuntime over our REST + SSE API. The transcript
// (GET /v1/sessions/{id}, TanStack Query) plus the live turn (folded from its stream, turn.ts)
// are the runtime's messages; assistant-ui renders them, keeps the viewport scrolled, and runs
// the composer (Enter sends, Shift+Enter a new line, Esc stops) and the copy buttons.
import {
  ActionBarPrimitive,
  AssistantRuntimeProvider,
  ComposerPrimitive,
  MessagePrimitive,
  ThreadPrimitive,
  useAuiState,
  useExternalStoreRuntime,
  type AppendMessage,
  type ThreadMessageLike,
  type ToolCallMessagePartProps,
} from "@assistant-ui/react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { cancelTurn, getSession, newMessageId, sendMessage } from "../api/client";
import { ApiError } from "../api/http";
import type { ClientConfig, SessionView, ToolCallRecord } from "../api/types";
import { txHash } from "../lib/format";
import { ApprovalCard, ScheduledCard, type Decision } from "./Approval";
import { MarkdownText } from "./Markdown";
import { keepFirstMessage } from "./titles";
import { activity, FINISHED, foldEvent, parseTurnEvent, startTurn, type LiveTurn } from "./turn";

/** One row of the thread: a transcript message or the live turn's question and answer. */
interface Row {
  id: string;
  role: "user" | "assistant";
  text: string;
  at?: number;
  tools: ToolCallRecord[];
  running?: boolean;
  /** what went wrong and what to do (the live turn's final error) */
  error?: string;
  /** the answer was cut off: by the Stop button (cancelled) or by a newer message (interrupted) */
  stopped?: Stopped;
}

type Stopped = "cancelled" | "interrupted";
const stoppedOf = (status: string | null | undefined): Stopped | undefined =>
  status === "cancelled" || status === "interrupted" ? status : undefined;

function rowsOf(view: SessionView | undefined, live: LiveTurn | null): Row[] {
  const rows: Row[] = [];
  (view?.messages ?? []).forEach((m, i) => {
    if (m.role !== "user" && m.role !== "assistant") return;
    if (live && m.message_id === live.messageId) return; // the live turn shows it until it is in the transcript
    const at = m.at ? new Date(m.at).getTime() : undefined;
    const stopped = m.role === "assistant" ? stoppedOf(m.status) : undefined;
    rows.push({ id: `${m.turn}-${m.role}-${i}`, role: m.role, text: m.content, at, tools: m.tool_calls ?? [], stopped });
  });
  if (live) {
    rows.push({ id: `live-user-${live.messageId}`, role: "user", text: live.text, at: live.at, tools: [] });
    const running = !FINISHED.includes(live.phase) && live.phase !== "approval";
    if (live.reply || live.tools.length > 0 || live.phase === "failed")
      rows.push({
        id: `live-assistant-${live.messageId}`,
        role: "assistant",
        text: live.reply,
        tools: live.tools,
        running,
        error: live.phase === "failed" ? live.error : undefined,
        stopped: stoppedOf(live.phase),
      });
  }
  return rows;
}

const convert = (r: Row): ThreadMessageLike => ({
  id: r.id,
  role: r.role,
  createdAt: r.at ? new Date(r.at) : undefined,
  content: [
    ...r.tools.map((t) => ({
      type: "tool-call" as const,
      toolCallId: t.call_id,
      toolName: t.name,
      args: t.args as Record<string, never>,
      result: t.result ?? undefined,
      artifact: t,
    })),
    ...(r.text.trim() ? [{ type: "text" as const, text: r.text }] : []),
  ],
  status: r.role === "assistant" ? (r.running ? { type: "running" } : { type: "complete", reason: "stop" }) : undefined,
  metadata: { custom: { ...(r.error ? { error: r.error } : {}), ...(r.stopped ? { stopped: r.stopped } : {}) } },
});

/** What a failed request means for the person at the keyboard, and what to do about it. */
export function explain(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return "Cannot reach the API: check that it is running (impressox up), then send again.";
    if (err.status === 401) return "This API needs a key: enter it above, then send again.";
    if (err.status === 409) return `${err.message}. Start a new session or try again in a moment.`;
    if (err.status === 429) return `Too many messages: try again in ${err.retryAfter ?? 1} s.`;
    return `${err.message} (HTTP ${err.status}).`;
  }
  const text = err instanceof Error ? err.message : String(err);
  return /ended before/.test(text)
    ? "The connection dropped and did not come back: reload the page to see the answer."
    : `The agent could not answer: ${text}. Send the message again; if it keeps failing, check the model settings.`;
}

export function Chat({ sessionId, config }: { sessionId: string; config: ClientConfig | undefined }) {
  const qc = useQueryClient();
  const [live, setLive] = useState<LiveTurn | null>(null);
  const [notice, setNotice] = useState("");
  const [decisions, setDecisions] = useState<Decision[]>([]);
  const [stopping, setStopping] = useState(false);
  const session = useQuery({
    queryKey: ["session", sessionId],
    queryFn: () => getSession(sessionId),
    // no status poll: the stream says what is happening; the transcript is re-read only while an
    // answer is on its way without a stream (after a decision, or a turn that ended elsewhere), and
    // every second while a transfer waits in its undo window (its card goes once it was sent)
    refetchInterval: (q) => {
      const v = q.state.data;
      const finishing = live && (FINISHED.includes(live.phase) || live.phase === "approval");
      const scheduled = (v?.scheduled_transfers?.length ?? 0) > 0;
      return finishing || scheduled || (v && v.status === "working" && !live) ? 1000 : false;
    },
  });
  const view = session.data;
  const inTranscript = (id: string) => view?.messages.some((m) => m.message_id === id && m.role === "assistant");
  useEffect(() => {
    // the live turn goes once the transcript holds its answer
    if (live && FINISHED.includes(live.phase) && live.phase !== "failed" && inTranscript(live.messageId)) setLive(null);
    if (live?.phase === "approval" && inTranscript(live.messageId)) setLive(null);
  });

  const send = useCallback(
    async (text: string) => {
      const messageId = newMessageId();
      setNotice("");
      setDecisions([]);
      keepFirstMessage(sessionId, text);
      qc.invalidateQueries({ queryKey: ["sessions"] });
      setLive(startTurn(messageId, text));
      const update = (f: (l: LiveTurn) => LiveTurn) => setLive((l) => (l && l.messageId === messageId ? f(l) : l));
      try {
        const out = await sendMessage(sessionId, text, messageId, (ev) => {
          update((l) => foldEvent(l, parseTurnEvent(ev.event, ev.data)));
          if (ev.event === "approval_required") qc.invalidateQueries({ queryKey: ["session", sessionId] });
        });
        if (out.kind === "pending") update((l) => ({ ...l, phase: "approval" }));
        else update((l) => foldEvent(l, { event: out.status === "cancelled" ? "cancelled" : "done", reply: out.reply, status: out.status ?? null }));
      } catch (err) {
        update((l) => ({ ...l, phase: "failed", error: explain(err) }));
        if (err instanceof ApiError) {
          setLive(null);
          setNotice(explain(err));
        }
      } finally {
        qc.invalidateQueries({ queryKey: ["session", sessionId] });
        qc.invalidateQueries({ queryKey: ["sessions"] });
      }
    },
    [qc, sessionId],
  );

  const canCancel = config?.features.includes("cancel") ?? false;
  const running = !!live && !FINISHED.includes(live.phase) && live.phase !== "approval";
  const cancel = useCallback(async () => {
    setStopping(true);
    try {
      await cancelTurn(sessionId);
    } catch (err) {
      // 409: the turn had already ended; anything else is worth saying
      if (!(err instanceof ApiError && err.status === 409)) setNotice(explain(err));
    } finally {
      setStopping(false);
    }
  }, [sessionId]);

  const rows = useMemo(() => rowsOf(view, live), [view, live]);
  const runtime = useExternalStoreRuntime<Row>({
    messages: rows,
    convertMessage: convert,
    isRunning: running,
    isLoading: session.isLoading,
    onNew: async (m: AppendMessage) => {
      const text = m.content.map((p) => (p.type === "text" ? p.text : "")).join("").trim();
      if (text) void send(text);
    },
    onCancel: canCancel ? cancel : undefined,
  });

  // Esc stops the running turn from anywhere on the page (the composer's own Esc needs its focus)
  useEffect(() => {
    if (!canCancel || !running) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !stopping) void cancel();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [canCancel, running, stopping, cancel]);

  if (session.error instanceof ApiError && session.error.status === 404)
    return (
      <p className="error" role="alert">
        This session does not exist (or is not yours): start a new one from the menu.
      </p>
    );
  const pending = view?.pending_approvals ?? [];
  const scheduled = view?.scheduled_transfers ?? [];
  const decided = (d: Decision) => {
    setDecisions((ds) => [...ds.filter((x) => x.callId !== d.callId), d]);
    qc.invalidateQueries({ queryKey: ["session", sessionId] });
  };
  // an approved transfer in its undo window: the turn waits for it, not for a decision
  const waitingToSend = scheduled.length > 0 && pending.length === 0 && (!live || live.phase === "approval");
  const status =
    (waitingToSend ? "transfer in its undo window: Cancel stops it" : activity(live)) ??
    (stopping ? "stopping…" : view?.status === "working" ? "working…" : pending.length > 0 ? "waiting for your approval" : "Ready");
  const busy = status !== "Ready";
  // queued_messages counts the messages waiting behind the turn being answered
  const queued = view?.status === "awaiting_approval" && view.queued_messages > 0;
  return (
    <AssistantRuntimeProvider runtime={runtime}>
      <section className="chat" aria-label="Chat">
        <ThreadPrimitive.Root className="thread">
          <ThreadPrimitive.Viewport className="transcript" aria-label="Transcript">
            {rows.length === 0 && !session.isLoading && (
              <p className="hint welcome">Ask anything: try “what is 17 * 23?” or “send 0.01 ETH to 0x…”.</p>
            )}
            <ThreadPrimitive.Messages components={{ UserMessage, AssistantMessage }} />
          </ThreadPrimitive.Viewport>
          <div className="dock">
            {pending.map((p) => (
              <ApprovalCard
                key={p.call_id}
                approval={p}
                sessionId={sessionId}
                onDecided={decided}
              />
            ))}
            {scheduled.map((t) => (
              <ScheduledCard key={t.call_id} transfer={t} sessionId={sessionId} onCancelled={decided} />
            ))}
            {decisions.map((d) => (
              <p key={d.callId} className={`decision ${d.approved ? "approved" : "rejected"}`} role="status">
                {d.text}
              </p>
            ))}
            {queued && <p className="note">A message is queued behind the approval: decide it and the reply follows.</p>}
            {notice && (
              <p className="error-box" role="alert">
                {notice}
              </p>
            )}
            <p className={`status-line${busy ? " busy" : ""}`} role="status" aria-label="Agent status" aria-live="polite">
              {busy && <span className="dot" aria-hidden="true" />}
              {status}
            </p>
            <ComposerPrimitive.Root className="composer">
              <ComposerPrimitive.Input
                aria-label="Message"
                placeholder="Message (Enter sends, Shift+Enter: new line)"
                rows={1}
                maxRows={8}
                submitMode="enter"
                cancelOnEscape
                autoFocus
              />
              <ComposerPrimitive.Send className="send">Send</ComposerPrimitive.Send>
              {canCancel ? (
                <ComposerPrimitive.Cancel className="stop" title="Stop the answer (Esc)">
                  Stop
                </ComposerPrimitive.Cancel>
              ) : (
                <button type="button" className="stop" disabled title="Stopping a turn needs an API with the turn-cancel endpoint">
                  Stop
                </button>
              )}
            </ComposerPrimitive.Root>
          </div>
        </ThreadPrimitive.Root>
      </section>
    </AssistantRuntimeProvider>
  );
}

function Stamp() {
  const at = useAuiState((s) => s.message.createdAt);
  if (!at) return null;
  const d = new Date(at);
  const today = d.toDateString() === new Date().toDateString();
  return (
    <time dateTime={d.toISOString()} title={d.toLocaleString()}>
      {today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : d.toLocaleString([], { dateStyle: "short", timeStyle: "short" })}
    </time>
  );
}

function Meta() {
  return (
    <div className="meta">
      <Stamp />
      <ActionBarPrimitive.Root className="actions-bar">
        <ActionBarPrimitive.Copy className="copy" aria-label="Copy message">
          Copy
        </ActionBarPrimitive.Copy>
      </ActionBarPrimitive.Root>
    </div>
  );
}

function UserMessage() {
  return (
    <MessagePrimitive.Root className="msg user">
      <div className="bubble">
        <MessagePrimitive.Parts />
      </div>
      <Meta />
    </MessagePrimitive.Root>
  );
}

function TurnError() {
  const error = useAuiState((s) => (s.message.metadata?.custom as { error?: string } | undefined)?.error);
  return error ? (
    <p className="error-box" role="alert">
      {error}
    </p>
  ) : null;
}

const STOPPED_TEXT: Record<Stopped, string> = {
  cancelled: "Stopped: the answer ends here.",
  interrupted: "Interrupted by a newer message: the answer ends here.",
};

/** The mark on a cut-off answer (the transcript keeps the text as far as it was written). */
function StoppedMark() {
  const stopped = useAuiState((s) => (s.message.metadata?.custom as { stopped?: Stopped } | undefined)?.stopped);
  return stopped ? (
    <p className="stopped" role="note">
      {STOPPED_TEXT[stopped]}
    </p>
  ) : null;
}

// a running message with no text yet shows nothing (the status line says what happens), not an empty bubble
const NoText = () => null;

function AssistantMessage() {
  return (
    <MessagePrimitive.Root className="msg assistant">
      <MessagePrimitive.Parts components={{ Text: MarkdownText, Empty: NoText, tools: { Fallback: ToolCard } }} />
      <StoppedMark />
      <TurnError />
      <Meta />
    </MessagePrimitive.Root>
  );
}

const STATUS_TEXT: Record<string, string> = {
  ok: "done",
  error: "failed",
  rejected: "rejected",
  expired: "expired",
  awaiting_approval: "awaiting approval",
  running: "running…",
};

/** A compact tool call: name, outcome (coloured) and the short result; arguments and the full result on demand. */
export function ToolCard({ toolName, artifact }: ToolCallMessagePartProps) {
  const call = artifact as ToolCallRecord;
  const [open, setOpen] = useState(false);
  const hash = txHash(call.result);
  const short = call.result && call.result.length > 80 ? `${call.result.slice(0, 77)}…` : call.result;
  return (
    <div className={`tool tool-${call.status}`}>
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)} className="tool-head">
        <span className="tool-name">{toolName}</span> <span className="tool-status">{STATUS_TEXT[call.status] ?? call.status}</span>
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
