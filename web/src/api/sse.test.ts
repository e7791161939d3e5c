import { describe, expect, it } from "vitest";
import { followTurn, type SseEvent } from "./sse";

function sse(events: [string, string, object][], end = true): Response {
  const body = events.map(([id, event, data]) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
  const bytes = new TextEncoder().encode(body);
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    // one byte at a time: the parser must not care where chunks end; then the end or a drop
    pull(c) {
      if (i < bytes.length) c.enqueue(bytes.slice(i, ++i));
      else if (end) c.close();
      else c.error(new TypeError("network error"));
    },
  });
  return new Response(stream, { headers: { "Content-Type": "text/event-stream" } });
}

describe("followTurn", () => {
  it("resumes after a drop with Last-Event-ID and sees each event once", async () => {
    const seen: SseEvent[] = [];
    const asked: (string | null)[] = [];
    const done = await followTurn({
      first: async () => sse([["1-0", "token", { text: "39" }]], false),
      fetcher: async (_path, init) => {
        asked.push((init.headers as Record<string, string>)["Last-Event-ID"] ?? null);
        return sse([
          ["2-0", "token", { text: "1" }],
          ["3-0", "done", { reply: "391" }],
        ]);
      },
      resumePath: "/events",
      headers: () => ({}),
      onEvent: (ev) => seen.push(ev),
      delay: async () => {},
    });
    expect(done.reply).toBe("391");
    expect(asked).toEqual(["1-0"]);
    expect(seen.map((e) => e.id)).toEqual(["1-0", "2-0", "3-0"]);
  });

  it("keeps trying while the server is away, then fails clearly", async () => {
    let calls = 0;
    await expect(
      followTurn({
        first: async () => sse([], true),
        fetcher: async () => {
          calls++;
          throw new TypeError("down");
        },
        resumePath: "/events",
        headers: () => ({}),
        onEvent: () => {},
        maxReconnects: 3,
        delay: async () => {},
      }),
    ).rejects.toThrow(/ended before/);
    expect(calls).toBe(3);
  });

  it("raises a final error event", async () => {
    await expect(
      followTurn({
        first: async () => sse([["1-0", "error", { final: true, message: "model down" }]]),
        fetcher: async () => sse([]),
        resumePath: "/events",
        headers: () => ({}),
        onEvent: () => {},
        delay: async () => {},
      }),
    ).rejects.toThrow("model down");
  });
});
