// Server-sent events over fetch (EventSource can neither POST nor send an API key), with
// resume after a dropped connection from the last event id seen (Last-Event-ID).

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** An incremental SSE parser: feed it text chunks as they arrive, get whole events back. */
export class SseParser {
  private buf = "";
  private id: string | null = null;
  private event = "";
  private data: string[] = [];

  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // a lone \r at the end may be the first half of \r\n: wait for more
      if (m[0] === "\r" && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const ev = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      this.event = "";
      this.data = [];
      return ev;
    }
    if (line.startsWith(":")) return null; // keep-alive comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

export interface TurnDone {
  reply: string;
  status?: string;
  message_id?: string;
  tool_calls?: unknown[];
}

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

async function readAll(r: Response, parser: SseParser, onEvent: (ev: SseEvent) => boolean): Promise<boolean> {
  if (!r.body) return false;
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
      if (onEvent(ev)) {
        reader.cancel().catch(() => {});
        return true;
      }
    }
  }
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
    if (ev.event === "done") {
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
    finished = await readAll(await opts.first(), new SseParser(), handle);
  } catch (err) {
    if (lastId === null && !(err instanceof TypeError)) throw err;
  }
  for (let attempt = 0; !finished && attempt < (opts.maxReconnects ?? 20); attempt++) {
    await delay(attempt);
    const headers = opts.headers();
    if (lastId) headers["Last-Event-ID"] = lastId;
    try {
      const r = await opts.fetcher(opts.resumePath, { headers });
      if (r.ok) finished = await readAll(r, new SseParser(), handle);
    } catch {
      // still down: try again
    }
  }
  if (failure) throw new Error(failure);
  if (!result) throw new Error("the event stream ended before the turn did");
  return result;
}
