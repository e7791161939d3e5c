import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useState, type FormEvent } from "react";
import { createSession, endSession, listAgents, listSessions, renameSession } from "../api/client";
import type { ClientConfig, SessionSummary } from "../api/types";
import { keepRename, titleOf, useLocalTitles } from "../chat/titles";
import { ago, newestFirst } from "../lib/format";
import { sessionHref } from "../route";

// the chat (assistant-ui, the Markdown renderer) is its own chunk: the menu and the session list
// are usable while it loads, and it is fetched right after the first paint anyway
const loadChat = () => import("../chat/Chat");
const Chat = lazy(() => loadChat().then((m) => ({ default: m.Chat })));

const ended = (s: SessionSummary) => s.status.toLowerCase() !== "running";

/** The session list (in the side menu): new session, search, and each session's title. */
export function SessionList({ current, config }: { current: string | null; config: ClientConfig | undefined }) {
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: listSessions, refetchInterval: 10_000 });
  const [query, setQuery] = useState("");
  const local = useLocalTitles();
  const q = query.trim().toLowerCase();
  const items = newestFirst(sessions.data ?? [], (s) => s.last_active_at ?? s.started_at).filter(
    (s) => !q || titleOf(s, local).toLowerCase().includes(q) || (s.agent ?? "").toLowerCase().includes(q),
  );
  return (
    <div className="session-list" role="complementary" aria-label="Sessions">
      <NewSession />
      <label htmlFor="session-search" className="sr-only">
        Search sessions
      </label>
      <input
        id="session-search"
        type="search"
        placeholder="Search sessions"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {sessions.error && (
        <p className="error-box" role="alert">
          Sessions could not be listed: {sessions.error.message}
        </p>
      )}
      <ul>
        {items.map((s) => (
          <SessionEntry
            key={s.session_id}
            s={s}
            title={titleOf(s, local)}
            current={s.session_id === current}
            config={config}
          />
        ))}
        {sessions.data && items.length === 0 && <li className="hint">{q ? "No session matches." : "No sessions yet."}</li>}
      </ul>
    </div>
  );
}

function NewSession() {
  const qc = useQueryClient();
  const agents = useQuery({ queryKey: ["agents"], queryFn: listAgents, staleTime: 60_000 });
  const [agent, setAgent] = useState("");
  const create = useNewSession();
  return (
    <div className="new-session">
      <label htmlFor="agent" className="sr-only">
        Agent
      </label>
      <select id="agent" value={agent} onChange={(e) => setAgent(e.target.value)} disabled={!agents.data}>
        {(agents.data ?? []).map((a) => (
          <option key={a.name} value={a.name} title={a.description}>
            {a.name}
          </option>
        ))}
      </select>
      <button
        type="button"
        className="primary"
        onClick={() => create.mutate(agent || agents.data?.[0]?.name || "assistant", { onSuccess: () => qc.invalidateQueries({ queryKey: ["sessions"] }) })}
        disabled={!agents.data || create.isPending}
      >
        New session
      </button>
      {create.error && (
        <p className="error-box" role="alert">
          {create.error.message}
        </p>
      )}
    </div>
  );
}

export function useNewSession() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (agent: string) => createSession(agent),
    onSuccess: (made) => {
      qc.invalidateQueries({ queryKey: ["sessions"] });
      window.location.hash = sessionHref(made.session_id);
    },
  });
}

export function temporalHref(config: ClientConfig | undefined, sessionId: string): string | null {
  if (!config?.temporal_ui) return null;
  return `${config.temporal_ui}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(sessionId)}`;
}

function SessionEntry({
  s,
  title,
  current,
  config,
}: {
  s: SessionSummary;
  title: string;
  current: boolean;
  config: ClientConfig | undefined;
}) {
  const qc = useQueryClient();
  const [renaming, setRenaming] = useState(false);
  const [draft, setDraft] = useState(title);
  const [confirming, setConfirming] = useState(false);
  const viaApi = config?.features.includes("rename") ?? false;
  const rename = useMutation({
    mutationFn: async (t: string) => {
      if (viaApi) await renameSession(s.session_id, t);
      else keepRename(s.session_id, t);
    },
    onSuccess: () => {
      setRenaming(false);
      qc.invalidateQueries({ queryKey: ["sessions"] });
    },
  });
  const end = useMutation({
    mutationFn: () => endSession(s.session_id),
    onSuccess: () => {
      setConfirming(false);
      qc.invalidateQueries({ queryKey: ["sessions"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (draft.trim()) rename.mutate(draft.trim());
  };
  const ui = temporalHref(config, s.session_id);
  return (
    <li className={current ? "current" : undefined}>
      {renaming ? (
        <form className="rename" onSubmit={submit}>
          <label htmlFor={`rename-${s.session_id}`} className="sr-only">
            Session title
          </label>
          <input id={`rename-${s.session_id}`} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus maxLength={120} />
          <button type="submit" disabled={rename.isPending}>
            Save
          </button>
          <button type="button" onClick={() => setRenaming(false)}>
            Cancel
          </button>
          {!viaApi && <span className="hint">kept in this browser</span>}
        </form>
      ) : (
        <a href={sessionHref(s.session_id)} aria-current={current ? "page" : undefined}>
          <span className="title">{title}</span>
          <span className="meta-line">
            <span className="agent">{s.agent ?? "session"}</span>
            <span className={`platform platform-${s.platform ?? "unknown"}`}>{s.platform ?? "?"}</span>
            <span className="when">{ago(s.last_active_at ?? s.started_at)}</span>
            {ended(s) && <span className="status-tag">ended</span>}
          </span>
        </a>
      )}
      {current && !renaming && (
        <div className="entry-actions">
          <button type="button" className="small" onClick={() => (setDraft(title), setRenaming(true))}>
            Rename
          </button>
          {!ended(s) &&
            (confirming ? (
              <>
                <button type="button" className="small reject" onClick={() => end.mutate()} disabled={end.isPending}>
                  Yes, end it
                </button>
                <button type="button" className="small" onClick={() => setConfirming(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" className="small" onClick={() => setConfirming(true)}>
                End session
              </button>
            ))}
          {ui && (
            <a className="small" href={ui} target="_blank" rel="noopener noreferrer">
              Temporal UI
            </a>
          )}
        </div>
      )}
      {(rename.error || end.error) && (
        <p className="error-box" role="alert">
          {(rename.error ?? end.error)?.message}
        </p>
      )}
    </li>
  );
}

/** The sessions view's main column: the open chat, or a way to start one. */
export function SessionsPage({ sessionId, config }: { sessionId: string | null; config: ClientConfig | undefined }) {
  const agents = useQuery({ queryKey: ["agents"], queryFn: listAgents, staleTime: 60_000 });
  const create = useNewSession();
  useEffect(() => void loadChat(), []);
  if (sessionId)
    return (
      <Suspense fallback={<p className="hint empty-chat">Loading the chat…</p>}>
        <Chat key={sessionId} sessionId={sessionId} config={config} />
      </Suspense>
    );
  return (
    <div className="empty-chat">
      <p className="hint">Open a session from the menu, or:</p>
      <button type="button" className="primary" disabled={!agents.data || create.isPending} onClick={() => create.mutate(agents.data?.[0]?.name ?? "assistant")}>
        Start a new chat
      </button>
    </div>
  );
}
