import { describe, expect, it } from "vitest";
import { emptyFold, foldTurn, parseTurnEvent } from "./turnFold";

describe("turn stream fold", () => {
  it("drops a retried step, shows the running tool and keeps the terminal event", () => {
    const events: [string, object][] = [
      ["token", { text: "Let me ", step: 0 }],
      ["tool_call", { call_id: "c1", name: "get_token_price" }],
      ["tool_result", { call_id: "c1", name: "get_token_price", result: "$3,000" }],
      ["token", { text: "It is $3,00", step: 1 }],
      ["reset", { step: 1, attempt: 2 }],
      ["token", { text: "ETH is $3,000.", step: 1 }],
    ];
    let fold = emptyFold();
    for (const [event, data] of events) {
      fold = foldTurn(fold, parseTurnEvent(event, JSON.stringify(data)));
      if (event === "tool_call") expect(fold.tool).toBe("get_token_price");
    }
    expect(fold.text).toBe("Let me ETH is $3,000.");
    expect(fold.tool).toBeNull();
    fold = foldTurn(fold, parseTurnEvent("done", '{"reply": "ETH is $3,000.", "status": "completed"}'));
    expect(fold.end).toMatchObject({ event: "done", reply: "ETH is $3,000." });
  });

  it("skips kinds and bodies it does not know", () => {
    expect(parseTurnEvent("a_kind_from_the_future", "{}")).toBeNull();
    expect(parseTurnEvent("token", "not json")).toBeNull();
    expect(parseTurnEvent("token", '["a list"]')).toBeNull();
    expect(foldTurn(emptyFold(), null)).toEqual(emptyFold());
  });
});
