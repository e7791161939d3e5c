import { MutationCache, QueryCache, QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { getClientConfig, listNotifications } from "./api/client";
import { ApiError, getApiKey, setApiKey } from "./api/http";
import { AlertsPage, LinksPage, SchedulesPage } from "./pages/Workers";
import { NotificationsPage, useUnread } from "./pages/Notifications";
import { SessionList, SessionsPage } from "./pages/Sessions";
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

// One fixed layout: a side menu (pages and sessions) and the page; the chat scrolls inside its
// own transcript. Narrow screens fold the menu behind a "Menu" button (a drawer over the page).
function Shell({ needKey, onKey, askKey, retryAt }: ShellProps) {
  const route = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const config = useQuery({ queryKey: ["client-config"], queryFn: getClientConfig, staleTime: Infinity, retry: 2 });
  const notifications = useQuery({ queryKey: ["notifications"], queryFn: listNotifications, refetchInterval: 2000 });
  const unread = useUnread(notifications.data ?? [], route.page === "notifications");
  const sessionId = route.page === "sessions" ? route.sessionId : null;
  useEffect(() => setMenuOpen(false), [route.page, sessionId]); // a choice in the drawer closes it
  // keyless mode never offers a key; an API with keys (or one that answered 401) does
  const keyed = config.data?.keys_required ?? false;
  return (
    <div className={`shell${menuOpen ? " menu-open" : ""}`}>
      <header className="top">
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="side-menu"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <a className="brand" href="#/sessions">
          Impressox Agent
        </a>
        {(keyed || needKey) && (
          <button type="button" className="link" onClick={askKey}>
            API key
          </button>
        )}
      </header>
      <aside id="side-menu" className="side" aria-label="Menu">
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
        <SessionList current={sessionId} config={config.data} />
        <footer>
          <a href="/docs">API docs</a>
        </footer>
      </aside>
      {menuOpen && <div className="scrim" aria-hidden="true" onClick={() => setMenuOpen(false)} />}
      <main className={route.page === "sessions" ? "main chat-main" : "main"}>
        {needKey && <KeyPrompt onKey={onKey} />}
        {retryAt && <RateLimited key={retryAt} until={retryAt} />}
        {route.page === "sessions" && <SessionsPage sessionId={route.sessionId} config={config.data} />}
        {route.page === "notifications" && <NotificationsPage items={notifications.data} error={notifications.error} />}
        {route.page === "vault" && <VaultPage />}
        {route.page === "schedules" && <SchedulesPage />}
        {route.page === "alerts" && <AlertsPage />}
        {route.page === "links" && <LinksPage />}
      </main>
    </div>
  );
}
