import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { getVault, registerVault } from "../api/client";
import { ApiError } from "../api/http";
import { amount } from "../lib/format";

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
    </section>
  );
}
