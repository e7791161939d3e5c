import { beforeEach, describe, expect, it } from "vitest";
import { clip, keepFirstMessage, keepRename, titleOf } from "./titles";

const store: Record<string, string> = {};
globalThis.localStorage = {
  getItem: (k: string) => store[k] ?? null,
  setItem: (k: string, v: string) => void (store[k] = v),
} as Storage;

describe("session titles", () => {
  beforeEach(() => Object.keys(store).forEach((k) => delete store[k]));
  it("prefers a rename, then the API's title, then the first message sent from here", () => {
    const s = { session_id: "s1", agent: "assistant", title: null };
    expect(titleOf(s)).toBe("New assistant chat");
    keepFirstMessage("s1", "what is 17 * 23?");
    keepFirstMessage("s1", "a later message");
    expect(titleOf(s)).toBe("what is 17 * 23?");
    expect(titleOf({ ...s, title: "Maths" })).toBe("Maths");
    keepRename("s1", "  my   sums ");
    expect(titleOf({ ...s, title: "Maths" })).toBe("my sums");
  });
  it("clips long titles to one line", () => {
    expect(clip("a\nb")).toBe("a b");
    expect(clip("x".repeat(100))).toHaveLength(60);
  });
});
