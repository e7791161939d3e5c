// A turn's stream events and their fold: the TypeScript twin of core/turn_events.py (same event
// names and fields, same rules), standalone so any page can import it. A kind this client does not
// know is skipped, as the Python reader skips it.

export type TurnStreamEvent =
  | { event: "token"; text: string; step?: number }
  | { event: "reset"; step?: number; attempt?: number }
  | { event: "tool_call"; call_id: string; name: string; args?: Record<string, unknown> }
  | { event: "tool_result"; call_id: string; name: string; status?: string; result?: string }
  | { event: "error"; message: string; attempt?: number; step?: number; final?: boolean }
  | { event: "approval_required"; approvals: unknown[]; [field: string]: unknown }
  | { event: "done" | "cancelled" | "interrupted"; reply?: string | null; status?: string; [field: string]: unknown };

const KINDS = new Set([
  "token",
  "reset",
  "tool_call",
  "tool_result",
  "error",
  "approval_required",
  "done",
  "cancelled",
  "interrupted",
]);

/** The typed event of one server-sent event, or null for a kind (or a body) this client does not know. */
export function parseTurnEvent(event: string, data: string): TurnStreamEvent | null {
  if (!KINDS.has(event)) return null;
  try {
    const body: unknown = JSON.parse(data);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
    return { ...(body as Record<string, unknown>), event } as TurnStreamEvent;
  } catch {
    return null;
  }
}

export interface TurnFold {
  text: string;
  /** where each model step's tokens begin in `text` (a `reset` drops the step's tokens) */
  starts: Record<number, number>;
  /** the tool running now, if any */
  tool: string | null;
  /** the terminal event, once it came */
  end: TurnStreamEvent | null;
}

export const emptyFold = (): TurnFold => ({ text: "", starts: {}, tool: null, end: null });

/** The answer after one more event (a new object; the old one is left as it was). */
export function foldTurn(fold: TurnFold, ev: TurnStreamEvent | null): TurnFold {
  if (ev === null) return fold;
  switch (ev.event) {
    case "token": {
      const step = ev.step ?? 0;
      const starts = step in fold.starts ? fold.starts : { ...fold.starts, [step]: fold.text.length };
      return { ...fold, starts, text: fold.text + (ev.text ?? ""), tool: null };
    }
    case "reset": {
      const step = ev.step ?? 0;
      return step in fold.starts ? { ...fold, text: fold.text.slice(0, fold.starts[step]) } : fold;
    }
    case "tool_call":
      return { ...fold, tool: ev.name || "a tool" };
    case "tool_result":
      return { ...fold, tool: null };
    case "done":
    case "cancelled":
    case "interrupted":
      return { ...fold, end: ev };
    default:
      return fold;
  }
}
