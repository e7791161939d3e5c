// One live turn folded from its stream events (pure, unit-tested): the text so far, its tool
// calls and what the agent is doing now, which is what the status line says.
import type { ToolCallRecord } from "../api/types";

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

export function startTurn(messageId: string, text: string, at: number = Date.now()): LiveTurn {
  return { messageId, text, at, reply: "", starts: {}, tools: [], phase: "sending" };
}

function toolOf(d: Record<string, unknown>, fallback: ToolCallRecord["status"]): ToolCallRecord {
  return {
    call_id: String(d.call_id ?? d.name ?? "tool"),
    name: String(d.name ?? "tool"),
    args: (d.args as Record<string, unknown>) ?? {},
    result: d.result == null ? null : String(d.result),
    status: (d.status as ToolCallRecord["status"]) ?? fallback,
  };
}

/** The turn after one stream event (`event` is the SSE event name, `d` its JSON data). */
export function foldEvent(t: LiveTurn, event: string, d: Record<string, unknown>): LiveTurn {
  const step = Number(d.step ?? 0);
  switch (event) {
    case "token":
      return {
        ...t,
        starts: step in t.starts ? t.starts : { ...t.starts, [step]: t.reply.length },
        reply: t.reply + String(d.text ?? ""),
        phase: "typing",
        error: undefined,
      };
    case "reset":
      return { ...t, reply: step in t.starts ? t.reply.slice(0, t.starts[step]) : t.reply, phase: "thinking" };
    case "tool_call":
      return { ...t, phase: "tool", tool: String(d.name ?? "a tool"), tools: [...t.tools, toolOf(d, RUNNING)] };
    case "tool_result": {
      const same = (c: ToolCallRecord) => c.call_id === d.call_id || (!d.call_id && c.name === d.name);
      return { ...t, phase: "thinking", tools: t.tools.map((c) => (same(c) ? toolOf({ ...c, ...d }, "ok") : c)) };
    }
    case "approval_required":
      return { ...t, phase: "approval" };
    case "error":
      return d.final
        ? { ...t, phase: "failed", error: String(d.message ?? "the turn failed") }
        : { ...t, error: String(d.message ?? "") };
    case "done":
    case "cancelled":
    case "interrupted": {
      const reply = typeof d.reply === "string" && d.reply ? d.reply : t.reply;
      const waiting = d.status === "awaiting_approval" || d.status === "queued_behind_approval";
      return { ...t, reply, phase: waiting ? "approval" : event === "done" ? "done" : event };
    }
    default:
      return t;
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
