// A turn's stream events and their one fold (pure, unit-tested): the TypeScript twin of
// core/turn_events.py. The events are typed by the API's `TurnStreamEvent` (generated from its
// OpenAPI schema); the fold follows the same rules as the Python `TurnFold` (a `reset` drops what
// its retried step wrote, the terminal event's body is the answer) and keeps what the page shows
// besides: the turn's tool calls and what the agent is doing now, which is what the status line says.
import type { ToolCallRecord, TurnStreamEvent } from "../api/types";

export type { TurnStreamEvent };

export type Phase =
  | "sending"
  | "thinking"
  | "typing"
  | "tool"
  | "approval"
  | "done"
  | "cancelled"
  | "interrupted"
  | "failed";

export interface LiveTurn {
  messageId: string;
  text: string;
  /** when it was sent (ms), the user message's timestamp until the transcript has it */
  at: number;
  reply: string;
  /** where each model step's tokens begin in `reply` (a `reset` of a retried step drops them) */
  starts: Record<number, number>;
  tools: ToolCallRecord[];
  phase: Phase;
  /** the running tool's name (phase "tool") */
  tool?: string;
  /** a retried step's error (the turn goes on) or the final one (phase "failed") */
  error?: string;
}

/** a live call's status until its result (not one of the API's: those are final) */
const RUNNING = "running" as ToolCallRecord["status"];

export const FINISHED: Phase[] = ["done", "cancelled", "interrupted", "failed"];

/** every kind of event this client knows (a kind added to the API's union breaks `tsc` here) */
const KINDS: Record<TurnStreamEvent["event"], true> = {
  token: true,
  reset: true,
  tool_call: true,
  tool_result: true,
  error: true,
  approval_required: true,
  done: true,
  cancelled: true,
  interrupted: true,
};

/** The typed event of one server-sent event (its name and JSON data), or null for a kind (or a
 * body) this client does not know: it is skipped, as the Python reader skips it. */
export function parseTurnEvent(event: string, data: string): TurnStreamEvent | null {
  if (!Object.prototype.hasOwnProperty.call(KINDS, event)) return null;
  try {
    const body: unknown = JSON.parse(data);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
    return { ...(body as Record<string, unknown>), event } as TurnStreamEvent;
  } catch {
    return null;
  }
}

export function startTurn(messageId: string, text: string, at: number = Date.now()): LiveTurn {
  return { messageId, text, at, reply: "", starts: {}, tools: [], phase: "sending" };
}

/** The turn after one more event (a new object; the old one is left as it was). */
export function foldEvent(t: LiveTurn, ev: TurnStreamEvent | null): LiveTurn {
  if (ev === null) return t;
  switch (ev.event) {
    case "token": {
      const step = ev.step ?? 0;
      return {
        ...t,
        starts: step in t.starts ? t.starts : { ...t.starts, [step]: t.reply.length },
        reply: t.reply + (ev.text ?? ""),
        phase: "typing",
        tool: undefined,
        error: undefined,
      };
    }
    case "reset": {
      const step = ev.step ?? 0;
      return { ...t, reply: step in t.starts ? t.reply.slice(0, t.starts[step]) : t.reply, phase: "thinking" };
    }
    case "tool_call": {
      const name = ev.name || "a tool";
      const call: ToolCallRecord = { call_id: ev.call_id || name, name, args: ev.args ?? {}, result: null, status: RUNNING };
      return { ...t, phase: "tool", tool: name, tools: [...t.tools, call] };
    }
    case "tool_result": {
      const same = (c: ToolCallRecord) => c.call_id === ev.call_id || (!ev.call_id && c.name === ev.name);
      const status = (ev.status || "ok") as ToolCallRecord["status"];
      const tools = t.tools.map((c) => (same(c) ? { ...c, result: ev.result ?? null, status } : c));
      return { ...t, phase: "thinking", tool: undefined, tools };
    }
    case "approval_required":
      return { ...t, phase: "approval" };
    case "error":
      return ev.final
        ? { ...t, phase: "failed", error: ev.message || "the turn failed" }
        : { ...t, error: ev.message ?? "" };
    case "done":
    case "cancelled":
    case "interrupted": {
      const reply = typeof ev.reply === "string" && ev.reply ? ev.reply : t.reply;
      const waiting = ev.status === "awaiting_approval" || ev.status === "queued_behind_approval";
      return { ...t, reply, phase: waiting ? "approval" : ev.event };
    }
    default: {
      const unhandled: never = ev; // every kind of the union is handled above
      void unhandled;
      return t;
    }
  }
}

/** What the status line says while a turn runs (null when nothing runs: the line says "Ready"). */
export function activity(t: LiveTurn | null): string | null {
  if (!t) return null;
  switch (t.phase) {
    case "sending":
    case "thinking":
      return t.error ? "thinking… (retrying after an error)" : "thinking…";
    case "typing":
      return "typing…";
    case "tool":
      return `running ${t.tool ?? "a tool"}…`;
    case "approval":
      return "waiting for your approval";
    default:
      return null;
  }
}
