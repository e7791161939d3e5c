import { describe, expect, it } from "vitest";
import { ago, amount, castUnpause, countdown, newestFirst, sendsIn, shortHex, txHash, unpauseTx, walletTx } from "./format";
import { parseRetryAfter } from "../api/http";
import { parseRoute } from "../route";

describe("approval countdown", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  it("counts minutes and seconds down to expired", () => {
    expect(countdown("2026-01-01T12:04:05Z", now)).toBe("4:05");
    expect(countdown("2026-01-01T12:00:09Z", now)).toBe("0:09");
    expect(countdown("2026-01-01T13:02:03Z", now)).toBe("1:02:03");
    expect(countdown("2026-01-01T12:00:00Z", now)).toBe("expired");
    expect(countdown("2026-01-01T11:00:00Z", now)).toBe("expired");
    expect(countdown("not a date", now)).toBe("expired");
  });
  it("ticks as time passes", () => {
    const at = "2026-01-01T12:01:00Z";
    expect([0, 1000, 59_000, 60_000].map((d) => countdown(at, now + d))).toEqual(["1:00", "0:59", "0:01", "expired"]);
  });
});

describe("formatting", () => {
  it("trims decimal amounts", () => {
    expect(amount("0.500000")).toBe("0.5");
    expect(amount("10.0")).toBe("10");
    expect(amount("100")).toBe("100");
    expect(amount(0.01)).toBe("0.01");
    expect(amount("n/a")).toBe("n/a");
  });
  it("shortens long hex only", () => {
    expect(shortHex("0x" + "ab".repeat(20))).toBe("0xababab…ababab");
    expect(shortHex("hello")).toBe("hello");
  });
  it("finds a transaction hash", () => {
    const h = "0x" + "1f".repeat(32);
    expect(txHash(`Sent 0.01 ETH: transaction ${h} (block 9).`)).toBe(h);
    expect(txHash("to 0x" + "a".repeat(40))).toBeNull();
    expect(txHash(null)).toBeNull();
  });
  it("says how long ago", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:50Z", now)).toBe("just now");
    expect(ago("2026-01-01T11:55:00Z", now)).toBe("5 min ago");
    expect(ago("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
    expect(ago(null, now)).toBe("");
  });
  it("sorts newest first", () => {
    const items = [{ at: "2026-01-01" }, { at: null }, { at: "2026-03-01" }];
    expect(newestFirst(items, (i) => i.at).map((i) => i.at)).toEqual(["2026-03-01", "2026-01-01", null]);
  });
  it("reads Retry-After in seconds or as a date", () => {
    expect(parseRetryAfter("7")).toBe(7);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", Date.parse("2026-01-01T12:00:00Z"))).toBe(30);
  });
  it("keeps the open session in the URL", () => {
    expect(parseRoute("#/sessions/s%3Alocal%3Aabc")).toEqual({ page: "sessions", sessionId: "s:local:abc" });
    expect(parseRoute("")).toEqual({ page: "sessions", sessionId: null });
    expect(parseRoute("#/notifications")).toEqual({ page: "notifications" });
  });
});

describe("undo window and unfreeze", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  it("counts the undo window down in seconds", () => {
    expect(sendsIn("2026-01-01T12:00:05Z", now)).toBe("sends in 5 s");
    expect(sendsIn("2026-01-01T12:00:04.200Z", now)).toBe("sends in 5 s");
    expect(sendsIn("2026-01-01T12:02:05Z", now)).toBe("sends in 2:05");
    expect(sendsIn("2026-01-01T12:00:00Z", now)).toBe("sending…");
    expect(sendsIn("2026-01-01T11:59:00Z", now)).toBe("sending…");
    expect(sendsIn(null, now)).toBe("sending…");
    expect(sendsIn("not a date", now)).toBe("sending…");
  });
  it("builds the owner's unpause() transaction", () => {
    const vault = { address: "0x" + "b".repeat(40), owner: "0x" + "a".repeat(40), chain_id: 31337 };
    const tx = unpauseTx(vault);
    expect(tx).toEqual({ from: vault.owner, to: vault.address, data: "0x3f4ba83a", value: "0x0", chain_id: 31337 });
    expect(castUnpause(tx, "http://127.0.0.1:8545")).toBe(
      `cast send ${vault.address} "unpause()" --from ${vault.owner} --rpc-url http://127.0.0.1:8545 --chain 31337`,
    );
    expect(walletTx(tx)).toEqual({ from: vault.owner, to: vault.address, data: "0x3f4ba83a", value: "0x0", chainId: "0x7a69" });
  });
});
