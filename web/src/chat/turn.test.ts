import { describe, expect, it } from "vitest";
import { activity, foldEvent, startTurn, type LiveTurn } from "./turn";

const fold = (events: [string, Record<string, unknown>][]): LiveTurn =>
  events.reduce((t, [e, d]) => foldEvent(t, e, d), startTurn("m1", "hi", 0));

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
      ["reset", { step: 1 }],
      ["token", { text: "B", step: 1 }],
    ]);
    expect(t.reply).toBe("AB");
  });
  it("names the running tool and then its result", () => {
    const running = fold([["tool_call", { call_id: "c1", name: "get_price", args: { symbol: "ETH" } }]]);
    expect(activity(running)).toBe("running get_price…");
    const back = foldEvent(running, "tool_result", { call_id: "c1", name: "get_price", result: "3000", status: "ok" });
    expect(back.tools).toEqual([{ call_id: "c1", name: "get_price", args: { symbol: "ETH" }, result: "3000", status: "ok" }]);
    expect(activity(back)).toBe("thinking…");
  });
  it("waits for approval when the turn ends awaiting one", () => {
    expect(activity(fold([["approval_required", {}]]))).toBe("waiting for your approval");
    expect(activity(fold([["done", { reply: "needs approval", status: "awaiting_approval" }]]))).toBe("waiting for your approval");
  });
  it("ends on done, cancelled or interrupted with the answer's reply", () => {
    expect(fold([["token", { text: "par" }], ["cancelled", { reply: "par", status: "cancelled" }]]).phase).toBe("cancelled");
    const done = fold([["done", { reply: "391" }]]);
    expect([done.phase, done.reply, activity(done)]).toEqual(["done", "391", null]);
  });
  it("keeps going after a retried error and fails on a final one", () => {
    const retried = fold([["error", { message: "timeout", final: false }]]);
    expect(activity(retried)).toMatch(/retrying/);
    const failed = fold([["error", { message: "model down", final: true }]]);
    expect([failed.phase, failed.error, activity(failed)]).toEqual(["failed", "model down", null]);
  });
});
