import { useEffect, useState } from "react";
import type { Notification } from "../api/types";
import { ago, shortHex } from "../lib/format";
import { sessionHref } from "../route";

const SEEN = "impressox.notificationsSeen";

/** How many notifications arrived after the list was last open (kept per browser). */
export function useUnread(items: Notification[], viewing: boolean): number {
  const [seen, setSeen] = useState(() => Number(localStorage.getItem(SEEN) ?? 0));
  const newest = items.reduce((t, n) => Math.max(t, new Date(n.at).getTime()), 0);
  useEffect(() => {
    if (viewing && newest > seen) {
      localStorage.setItem(SEEN, String(newest));
      setSeen(newest);
    }
  }, [viewing, newest, seen]);
  return items.filter((n) => new Date(n.at).getTime() > seen).length;
}

export function NotificationsPage({ items, error }: { items: Notification[] | undefined; error: Error | null }) {
  const list = [...(items ?? [])].reverse(); // the API lists newest last
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      {error && <p className="error">{error.message}</p>}
      {items && list.length === 0 && <p className="hint">Nothing yet: deposits to your vault show up here.</p>}
      <ul className="notifications" aria-live="polite">
        {list.map((n) => (
          <li key={n.key}>
            <span className="kind">{n.kind}</span> {n.text} <time dateTime={n.at}>{ago(n.at)}</time>
            <Where data={n.data} />
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Where a notification leads: its session (a scheduled run's answer) or its transaction. */
function Where({ data }: { data: Record<string, unknown> | undefined }) {
  const session = typeof data?.session_id === "string" ? data.session_id : null;
  const tx = typeof data?.tx_hash === "string" ? data.tx_hash : null;
  if (!session && !tx) return null;
  return (
    <span className="where">
      {session && (
        <>
          {" · "}
          <a href={sessionHref(session)}>Open its session</a>
        </>
      )}
      {tx && (
        <>
          {" · "}
          <a href="#/vault" title={tx}>
            Transaction <code>{shortHex(tx)}</code>
          </a>
        </>
      )}
    </span>
  );
}
