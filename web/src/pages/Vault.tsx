import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { freezeVault, getVault, registerVault } from "../api/client";
import { ApiError } from "../api/http";
import type { FreezeOut, VaultOut } from "../api/types";
import { amount, castUnpause, unpauseTx, walletTx, type UnfreezeTx } from "../lib/format";

interface InjectedWallet {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}
const injected = (): InjectedWallet | undefined => (window as unknown as { ethereum?: InjectedWallet }).ethereum;

export function VaultPage() {
  const qc = useQueryClient();
  const vault = useQuery({ queryKey: ["vault"], queryFn: getVault, retry: false, refetchInterval: 5000 });
  const [owner, setOwner] = useState("");
  const register = useMutation({
    mutationFn: () => registerVault(owner.trim()),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["vault"] }),
  });
  const missing = vault.error instanceof ApiError && vault.error.status === 404;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    register.mutate();
  };
  return (
    <section aria-labelledby="vault-title">
      <h1 id="vault-title">Vault</h1>
      {vault.error && !missing && <p className="error">{vault.error.message}</p>}
      {missing && (
        <form onSubmit={submit} className="card">
          <p>You have no vault yet. The platform deploys one for you; your own wallet owns it.</p>
          <label htmlFor="owner">Owner address</label>
          <input id="owner" value={owner} onChange={(e) => setOwner(e.target.value)} placeholder="0x…" pattern="^0x[0-9a-fA-F]{40}$" required />
          <button type="submit" disabled={register.isPending}>
            Register vault
          </button>
          {register.error && <p className="error" role="alert">{register.error.message}</p>}
        </form>
      )}
      {vault.data && (
        <div className="card">
          <dl>
            <dt>Address</dt>
            <dd><code>{vault.data.address}</code></dd>
            <dt>Owner</dt>
            <dd><code>{vault.data.owner}</code></dd>
            <dt>Chain</dt>
            <dd>{vault.data.chain_id}</dd>
          </dl>
          <div className="table-wrap">
          <table>
            <thead>
              <tr><th>Token</th><th>Balance</th><th>Daily limit</th><th>Spent today</th><th>Left today</th></tr>
            </thead>
            <tbody>
              {vault.data.tokens.map((t) => (
                <tr key={t.token}>
                  <td>{t.symbol}</td>
                  <td>{amount(t.balance)}</td>
                  <td>{amount(t.daily_limit)}</td>
                  <td>{amount(t.spent_today)}</td>
                  <td>{amount(t.remaining_today)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <p className="hint">Deposit by sending to the vault's address; deposits appear under Notifications.</p>
        </div>
      )}
      {vault.data && <FreezeCard vault={vault.data} />}
    </section>
  );
}

/** The freeze switch: the API can stop the vault's money (pause() on-chain), only the owner's
 * wallet can start it again (unpause()): so the button asks first and the card says how to undo it. */
function FreezeCard({ vault }: { vault: VaultOut }) {
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [frozenBy, setFrozenBy] = useState<FreezeOut | null>(null);
  const freeze = useMutation({
    mutationFn: freezeVault,
    onSuccess: (out) => {
      setFrozenBy(out);
      setConfirming(false);
      void qc.invalidateQueries({ queryKey: ["vault"] });
    },
  });
  if (vault.paused == null)
    return (
      <div className="card" aria-label="Freeze">
        <p className="hint">This vault version has no freeze switch.</p>
      </div>
    );
  const frozen = vault.paused;
  // the API's own answer right after a freeze; after a reload the same transaction, from the vault
  const tx: UnfreezeTx = frozenBy && frozen ? { ...frozenBy.unfreeze, value: frozenBy.unfreeze.value ?? "0x0" } : unpauseTx(vault);
  return (
    <div className={`card freeze${frozen ? " frozen" : ""}`} role="region" aria-label="Freeze">
      <p className="freeze-state" role="status" aria-label="Vault state">
        {frozen ? "Frozen: every transfer is refused until the owner wallet unfreezes it." : "Not frozen: transfers run within the daily limits."}
      </p>
      {!frozen && !confirming && (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Freeze vault
        </button>
      )}
      {!frozen && confirming && (
        <div className="confirm" role="alertdialog" aria-label="Confirm freeze">
          <p>
            Freeze the vault? Every spend stops at once, pending approvals are withdrawn and scheduled transfers cancelled. The API cannot undo
            this: only the owner wallet ({vault.owner}) can unfreeze it.
          </p>
          <div className="actions">
            <button type="button" className="danger" disabled={freeze.isPending} onClick={() => freeze.mutate()}>
              Yes, freeze it
            </button>
            <button type="button" disabled={freeze.isPending} onClick={() => setConfirming(false)}>
              Keep it running
            </button>
          </div>
        </div>
      )}
      {freeze.isPending && <p className="note">Freezing…</p>}
      {freeze.error && (
        <p className="error-box" role="alert">
          {freeze.error.message}
        </p>
      )}
      {frozenBy && frozen && <p className="note">{frozenBy.message} ({frozenBy.sessions_notified} session(s) told to withdraw their approvals).</p>}
      {frozen && <Unfreeze tx={tx} />}
    </div>
  );
}

function Unfreeze({ tx }: { tx: UnfreezeTx }) {
  const qc = useQueryClient();
  const wallet = injected();
  const send = useMutation({
    mutationFn: async () => {
      if (!wallet) throw new Error("no wallet in this browser");
      await wallet.request({ method: "eth_requestAccounts" });
      return String(await wallet.request({ method: "eth_sendTransaction", params: [walletTx(tx)] }));
    },
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["vault"] }),
  });
  return (
    <section aria-label="How to unfreeze">
      <p>To unfreeze, the owner wallet sends this transaction (the API cannot):</p>
      <dl aria-label="Unfreeze transaction">
        <dt>From</dt>
        <dd><code>{tx.from}</code></dd>
        <dt>To</dt>
        <dd><code>{tx.to}</code></dd>
        <dt>Data</dt>
        <dd><code>{tx.data}</code> (unpause())</dd>
        <dt>Chain</dt>
        <dd>{tx.chain_id}</dd>
      </dl>
      <pre className="snippet" aria-label="cast command">{castUnpause(tx)}</pre>
      <p className="hint">Add the owner's signer to the command (--ledger, --keystore or --private-key).</p>
      {wallet && (
        <button type="button" className="primary" disabled={send.isPending} onClick={() => send.mutate()}>
          Unfreeze with my wallet
        </button>
      )}
      {send.isPending && <p className="note">Waiting for the wallet…</p>}
      {send.data && <p className="note">Sent: transaction <code>{send.data}</code>; the page shows the vault running once it is mined.</p>}
      {send.error && <p className="error-box" role="alert">{send.error.message}</p>}
    </section>
  );
}
