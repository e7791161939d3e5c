import { MutationCache, QueryCache, QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { listNotifications } from "./api/client";
import { ApiError, getApiKey, setApiKey } from "./api/http";
import { AlertsPage, LinksPage, SchedulesPage } from "./pages/Workers";
import { NotificationsPage, useUnread } from "./pages/Notifications";
import { SessionsPage } from "./pages/Sessions";
import { VaultPage } from "./pages/Vault";
import { useRoute, type Route } from "./route";

export function App() {
  const [needKey, setNeedKey] = useState(false);
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const client = useMemo(() => {
    const onError = (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) setNeedKey(true);
      if (err instanceof ApiError && err.status === 429) setRetryAt(Date.now() + (err.retryAfter ?? 1) * 1000);
    };
    return new QueryClient({
      queryCache: new QueryCache({ onError }),
      mutationCache: new MutationCache({ onError }),
      defaultOptions: {
        queries: {
          // the fetch wrapper already retried network errors; 4xx answers are final
          retry: (n, err) => n < 1 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
          refetchOnWindowFocus: true,
        },
      },
    });
  }, []);
  return (
    <QueryClientProvider client={client}>
      <Shell
        needKey={needKey}
        onKey={(key) => {
          setApiKey(key);
          setNeedKey(false);
          client.invalidateQueries();
        }}
        askKey={() => setNeedKey(true)}
        retryAt={retryAt}
      />
    </QueryClientProvider>
  );
}

function RateLimited({ until }: { until: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);
  const left = Math.ceil((until - now) / 1000);
  if (left <= 0) return null;
  return (
    <p className="banner warn" role="status">
      Too many requests: try again in {left} s.
    </p>
  );
}

function KeyPrompt({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState(getApiKey());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onKey(key.trim());
  };
  return (
    <form className="banner keyprompt" onSubmit={submit}>
      <label htmlFor="api-key">This API needs a key (kept in this tab only):</label>
      <input id="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
      <button type="submit">Use key</button>
    </form>
  );
}

const NAV: { page: Route["page"]; label: string }[] = [
  { page: "sessions", label: "Sessions" },
  { page: "notifications", label: "Notifications" },
  { page: "vault", label: "Vault" },
  { page: "schedules", label: "Schedules" },
  { page: "alerts", label: "Alerts" },
  { page: "links", label: "Linked chats" },
];

interface ShellProps {
  needKey: boolean;
  onKey: (k: string) => void;
  askKey: () => void;
  retryAt: number | null;
}

function Shell({ needKey, onKey, askKey, retryAt }: ShellProps) {
  const route = useRoute();
  const notifications = useQuery({ queryKey: ["notifications"], queryFn: listNotifications, refetchInterval: 2000 });
  const unread = useUnread(notifications.data ?? [], route.page === "notifications");
  return (
    <div className="shell">
      <header className="top">
        <a className="brand" href="#/sessions">
          Impressox Agent
        </a>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a key={n.page} href={`#/${n.page}`} aria-current={route.page === n.page ? "page" : undefined}>
              {n.label}
              {n.page === "notifications" && unread > 0 && (
                <span className="badge" aria-label={`, ${unread} unread`}>
                  {unread}
                </span>
              )}
            </a>
          ))}
        </nav>
        <button type="button" className="link" onClick={askKey}>
          API key
        </button>
      </header>
      {needKey && <KeyPrompt onKey={onKey} />}
      {retryAt && <RateLimited key={retryAt} until={retryAt} />}
      <main>
        {route.page === "sessions" && <SessionsPage sessionId={route.sessionId} />}
        {route.page === "notifications" && <NotificationsPage items={notifications.data} error={notifications.error} />}
        {route.page === "vault" && <VaultPage />}
        {route.page === "schedules" && <SchedulesPage />}
        {route.page === "alerts" && <AlertsPage />}
        {route.page === "links" && <LinksPage />}
      </main>
      <footer>
        <a href="/docs">API docs</a>
      </footer>
    </div>
  );
}
