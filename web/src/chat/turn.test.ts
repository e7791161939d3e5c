import { describe, expect, it } from "vitest";
import { activity, foldEvent, parseTurnEvent, startTurn, type LiveTurn } from "./turn";

/** the turn after these server-sent events (name, JSON data), parsed as the page parses them */
const fold = (events: [string, object][], from: LiveTurn = startTurn("m1", "hi", 0)): LiveTurn =>
  events.reduce((t, [e, d]) => foldEvent(t, parseTurnEvent(e, JSON.stringify(d))), from);

describe("a live turn folded from its events", () => {
  it("says thinking, then typing while tokens arrive", () => {
    expect(activity(startTurn("m1", "hi"))).toBe("thinking…");
    const t = fold([["token", { text: "39", step: 0 }], ["token", { text: "1", step: 0 }]]);
    expect(t.reply).toBe("391");
    expect(activity(t)).toBe("typing…");
  });
  it("drops a retried step's tokens on reset and keeps earlier steps", () => {
    const t = fold([
      ["token", { text: "A", step: 0 }],
      ["token", { text: "b", step: 1 }],
      ["reset", { step: 1, attempt: 2 }],
    ]);
    expect([t.reply, activity(t)]).toEqual(["A", "thinking…"]);
    expect(fold([["token", { text: "B", step: 1 }]], t).reply).toBe("AB");
  });
  it("drops what a failed model wrote when a fallback model takes over mid-stream", () => {
    const t = fold([
      ["token", { text: "Let me ", step: 0 }],
      ["tool_call", { call_id: "c1", name: "get_token_price", args: { symbol: "ETH" } }],
      ["tool_result", { call_id: "c1", name: "get_token_price", status: "ok", result: "$3,000" }],
      ["token", { text: "It is $3,00", step: 1 }],
      ["reset", { step: 1, reason: "fallback", failed_model: "openai/gpt-4o" }],
      ["token", { text: "ETH is $3,000.", step: 1 }],
    ]);
    expect(t.reply).toBe("Let me ETH is $3,000.");
    expect(t.tools.map((c) => c.result)).toEqual(["$3,000"]);
  });
  it("a reset of a step that wrote nothing leaves the text as it was", () => {
    expect(fold([["token", { text: "A", step: 0 }], ["reset", { step: 3 }]]).reply).toBe("A");
  });
  it("names the running tool and then its result", () => {
    const running = fold([["tool_call", { call_id: "c1", name: "get_price", args: { symbol: "ETH" } }]]);
    expect(activity(running)).toBe("running get_price…");
    const back = fold([["tool_result", { call_id: "c1", name: "get_price", result: "3000", status: "ok" }]], running);
    expect(back.tools).toEqual([{ call_id: "c1", name: "get_price", args: { symbol: "ETH" }, result: "3000", status: "ok" }]);
    expect(activity(back)).toBe("thinking…");
    const failed = fold([["tool_result", { call_id: "c1", name: "get_price", result: "no feed", status: "error" }]], running);
    expect(failed.tools[0]).toMatchObject({ status: "error", result: "no feed" });
  });
  it("waits for approval when the turn stops for one or ends awaiting one", () => {
    expect(activity(fold([["approval_required", { status: "awaiting_approval", approvals: [{}] }]]))).toBe(
      "waiting for your approval",
    );
    expect(activity(fold([["done", { reply: "needs approval", status: "awaiting_approval" }]]))).toBe("waiting for your approval");
    expect(fold([["done", { reply: "", status: "queued_behind_approval" }]]).phase).toBe("approval");
  });
  it("ends on done with the answer's reply", () => {
    const done = fold([["token", { text: "39" }], ["done", { reply: "391", status: "completed", tool_calls: [] }]]);
    expect([done.phase, done.reply, activity(done)]).toEqual(["done", "391", null]);
  });
  it("ends cancelled (stopped) or interrupted (a newer message) with the text kept", () => {
    const stopped = fold([["token", { text: "par" }], ["cancelled", { reply: "par", status: "cancelled" }]]);
    expect([stopped.phase, stopped.reply, activity(stopped)]).toEqual(["cancelled", "par", null]);
    const interrupted = fold([["token", { text: "half" }], ["interrupted", { reply: "", status: "interrupted" }]]);
    expect([interrupted.phase, interrupted.reply]).toEqual(["interrupted", "half"]);
  });
  it("keeps going after a retried error and fails on a final one", () => {
    const retried = fold([["error", { message: "timeout", attempt: 1, final: false }]]);
    expect(activity(retried)).toMatch(/retrying/);
    expect(fold([["token", { text: "ok" }]], retried).error).toBeUndefined();
    const failed = fold([["error", { message: "model down", final: true }]]);
    expect([failed.phase, failed.error, activity(failed)]).toEqual(["failed", "model down", null]);
  });
});

describe("a turn's stream events parsed", () => {
  it("types each kind by its SSE event name and keeps the fields the API adds", () => {
    expect(parseTurnEvent("token", '{"text": "Hel", "step": 0}')).toEqual({ event: "token", text: "Hel", step: 0 });
    expect(parseTurnEvent("done", '{"reply": "hi", "message_id": "m1"}')).toEqual({ event: "done", reply: "hi", message_id: "m1" });
  });
  it("skips kinds and bodies it does not know", () => {
    expect(parseTurnEvent("a_kind_from_the_future", "{}")).toBeNull();
    expect(parseTurnEvent("constructor", "{}")).toBeNull();
    expect(parseTurnEvent("token", "not json")).toBeNull();
    expect(parseTurnEvent("token", '["a list"]')).toBeNull();
    const t = startTurn("m1", "hi", 0);
    expect(foldEvent(t, null)).toBe(t);
    expect(fold([["a_kind_from_the_future", { text: "x" }]])).toEqual(t);
  });
});
