// Server-sent events over fetch (EventSource can neither POST nor send an API key), with
// resume after a dropped connection from the last event id seen (Last-Event-ID). The wire
// format is parsed by eventsource-parser; this module only follows one turn across drops.
import { createParser } from "eventsource-parser";

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

export interface TurnDone {
  reply: string;
  status?: string;
  message_id?: string;
  tool_calls?: unknown[];
}

const TERMINAL = new Set(["done", "cancelled", "interrupted"]);

export type Fetcher = (path: string, init: RequestInit) => Promise<Response>;

export interface FollowOptions {
  fetcher: Fetcher;
  /** the request that starts the stream (POST …/messages?stream=true) */
  first: () => Promise<Response>;
  /** where to resume: GET …/messages/{message_id}/events */
  resumePath: string;
  headers: () => Record<string, string>;
  onEvent: (ev: SseEvent, data: Record<string, unknown>) => void;
  maxReconnects?: number;
  delay?: (attempt: number) => Promise<void>;
}

async function readAll(r: Response, onEvent: (ev: SseEvent) => boolean): Promise<boolean> {
  if (!r.body) return false;
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let finished = false;
  const parser = createParser({
    onEvent: (m) => {
      if (!finished && onEvent({ id: m.id ?? null, event: m.event || "message", data: m.data })) finished = true;
    },
  });
  while (!finished) {
    const { value, done } = await reader.read();
    if (done) return false;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  reader.cancel().catch(() => {});
  return true;
}

/** Follow one turn's events until `done` (or a final `error`), reconnecting with Last-Event-ID
 * after a drop, so each event is seen once. Returns the `done` data. */
export async function followTurn(opts: FollowOptions): Promise<TurnDone> {
  let lastId: string | null = null;
  let result: TurnDone | null = null;
  let failure: string | null = null;
  const handle = (ev: SseEvent): boolean => {
    if (ev.id) lastId = ev.id;
    let data: Record<string, unknown> = {};
    try {
      data = JSON.parse(ev.data) as Record<string, unknown>;
    } catch {
      data = { text: ev.data };
    }
    opts.onEvent(ev, data);
    // the last event: `done`, or `cancelled` / `interrupted` (a stopped turn), each with the answer's body
    if (TERMINAL.has(ev.event)) {
      result = data as unknown as TurnDone;
      return true;
    }
    if (ev.event === "error" && data.final) {
      failure = String(data.message ?? "the turn failed");
      return true;
    }
    return false;
  };
  const delay = opts.delay ?? ((n: number) => new Promise<void>((ok) => setTimeout(ok, Math.min(500 * 2 ** n, 8000))));
  let finished = false;
  try {
    finished = await readAll(await opts.first(), handle);
  } catch (err) {
    if (lastId === null && !(err instanceof TypeError)) throw err;
  }
  for (let attempt = 0; !finished && attempt < (opts.maxReconnects ?? 20); attempt++) {
    await delay(attempt);
    const headers = opts.headers();
    if (lastId) headers["Last-Event-ID"] = lastId;
    try {
      const r = await opts.fetcher(opts.resumePath, { headers });
      if (r.ok) finished = await readAll(r, handle);
    } catch {
      // still down: try again
    }
  }
  if (failure) throw new Error(failure);
  if (!result) throw new Error("the event stream ended before the turn did");
  return result;
}
