// Small pure helpers the pages share (unit-tested).

/** "4:05" for 245 s, "1:02:03" past an hour, "expired" at or below zero. */
export function countdown(expiresAt: string | Date, now: number = Date.now()): string {
  const left = Math.floor((new Date(expiresAt).getTime() - now) / 1000);
  if (!Number.isFinite(left) || left <= 0) return "expired";
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** "0x1234…abcd" for long hex strings (addresses, hashes); anything else unchanged. */
export function shortHex(value: string, keep = 6): string {
  return /^0x[0-9a-fA-F]+$/.test(value) && value.length > 2 + keep * 2 ? `${value.slice(0, keep + 2)}…${value.slice(-keep)}` : value;
}

/** A decimal string without trailing zeros: "0.500000" → "0.5", "10.0" → "10". */
export function amount(value: string | number): string {
  const s = String(value);
  if (!/^-?\d+(\.\d+)?$/.test(s)) return s;
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** "just now", "5 min ago", "3 h ago", else a local date and time. */
export function ago(at: string | null | undefined, now: number = Date.now()): string {
  if (!at) return "";
  const t = new Date(at).getTime();
  if (Number.isNaN(t)) return "";
  const s = Math.round((now - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

export const TX_HASH = /0x[0-9a-fA-F]{64}/;

/** The first transaction hash in a text, if any. */
export function txHash(text: string | null | undefined): string | null {
  return text?.match(TX_HASH)?.[0] ?? null;
}

/** Newest first by a timestamp field (missing timestamps last). */
export function newestFirst<T>(items: T[], at: (item: T) => string | null | undefined): T[] {
  const time = (item: T) => {
    const v = at(item);
    return v ? new Date(v).getTime() : -Infinity;
  };
  return [...items].sort((a, b) => time(b) - time(a));
}

/** The undo window's countdown: "sends in 5 s", "sends in 2:05" past a minute, "sending…" once due. */
export function sendsIn(executesAt: string | Date | null | undefined, now: number = Date.now()): string {
  if (!executesAt) return "sending…";
  const left = Math.ceil((new Date(executesAt).getTime() - now) / 1000);
  if (!Number.isFinite(left) || left <= 0) return "sending…";
  return left < 60 ? `sends in ${left} s` : `sends in ${countdown(executesAt, now)}`;
}

/** The owner-wallet transaction that unfreezes a vault (as the API's FreezeOut.unfreeze lists it). */
export interface UnfreezeTx {
  from: string;
  to: string;
  data: string;
  value: string;
  chain_id: number;
}

/** keccak("unpause()")[:4]: the one call that unfreezes a vault (api/routers/vault.py) */
export const UNPAUSE_SELECTOR = "0x3f4ba83a";

/** The unpause() transaction built from the vault itself (when no freeze answer is at hand). */
export function unpauseTx(vault: { address: string; owner: string; chain_id: number }): UnfreezeTx {
  return { from: vault.owner, to: vault.address, data: UNPAUSE_SELECTOR, value: "0x0", chain_id: vault.chain_id };
}

/** The same transaction as a Foundry `cast send` command for the owner to run. */
export function castUnpause(tx: UnfreezeTx, rpcUrl = "$ETH_RPC_URL"): string {
  return `cast send ${tx.to} "unpause()" --from ${tx.from} --rpc-url ${rpcUrl} --chain ${tx.chain_id}`;
}

/** The transaction as eth_sendTransaction's parameter (hex chain id, for an injected wallet). */
export function walletTx(tx: UnfreezeTx): Record<string, string> {
  return { from: tx.from, to: tx.to, data: tx.data, value: tx.value || "0x0", chainId: `0x${tx.chain_id.toString(16)}` };
}
