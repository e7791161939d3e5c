import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import {
  createAlert,
  createLinkCode,
  createSchedule,
  deleteAlert,
  deleteSchedule,
  getSchedule,
  listAlerts,
  listLinks,
  scheduleAction,
  listSchedules,
} from "../api/client";
import { ApiError } from "../api/http";
import type { AlertCreate, ScheduleRun } from "../api/types";
import { ago, countdown, newestFirst } from "../lib/format";

function Unavailable({ what, error }: { what: string; error: unknown }) {
  if (error instanceof ApiError && (error.status === 404 || error.status === 501))
    return <p className="hint">{what} are not available on this API.</p>;
  return error ? <p className="error">{(error as Error).message}</p> : null;
}

function Page({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id}>
      <h1 id={id}>{title}</h1>
      {children}
    </section>
  );
}

function everyLabel(seconds: number): string {
  if (seconds % 86400 === 0) return `every ${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `every ${seconds / 3600} h`;
  if (seconds % 60 === 0) return `every ${seconds / 60} min`;
  return `every ${seconds} s`;
}

export function SchedulesPage() {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["schedules"], queryFn: listSchedules, retry: false, refetchInterval: 5000 });
  const [prompt, setPrompt] = useState("");
  const [kind, setKind] = useState<"every" | "cron">("every");
  const [every, setEvery] = useState("3600");
  const [cron, setCron] = useState("0 9 * * *");
  const [tz, setTz] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ["schedules"] });
    qc.invalidateQueries({ queryKey: ["schedule"] });
  };
  const create = useMutation({
    mutationFn: () =>
      createSchedule({
        prompt,
        agent: "assistant",
        timezone: tz,
        ...(kind === "every" ? { every_seconds: Number(every) } : { cron }),
      }),
    onSuccess: () => {
      setPrompt("");
      refresh();
    },
  });
  const act = useMutation({
    mutationFn: async ({ id, action }: { id: string; action: "pause" | "resume" | "trigger" | "delete" }) => {
      if (action === "delete") await deleteSchedule(id);
      else await scheduleAction(id, action);
    },
    onSuccess: refresh,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const missing = list.error instanceof ApiError && list.error.status === 404;
  return (
    <Page id="schedules-title" title="Schedules">
      <Unavailable what="Schedules" error={list.error} />
      {!missing && (
        <form className="card form-grid" onSubmit={submit}>
          <label htmlFor="s-prompt">Prompt</label>
          <input id="s-prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} required placeholder="e.g. what is the price of ETH?" />
          <label htmlFor="s-kind">Repeat</label>
          <select id="s-kind" value={kind} onChange={(e) => setKind(e.target.value as "every" | "cron")}>
            <option value="every">every N seconds</option>
            <option value="cron">cron expression</option>
          </select>
          {kind === "every" ? (
            <>
              <label htmlFor="s-every">Seconds</label>
              <input id="s-every" type="number" min={1} value={every} onChange={(e) => setEvery(e.target.value)} />
            </>
          ) : (
            <>
              <label htmlFor="s-cron">Cron</label>
              <input id="s-cron" value={cron} onChange={(e) => setCron(e.target.value)} />
            </>
          )}
          <label htmlFor="s-tz">Time zone</label>
          <input id="s-tz" value={tz} onChange={(e) => setTz(e.target.value)} />
          <button type="submit" disabled={create.isPending}>
            Create schedule
          </button>
          {create.error && <p className="error" role="alert">{create.error.message}</p>}
        </form>
      )}
      {act.error && <p className="error" role="alert">{act.error.message}</p>}
      <ul className="cards">
        {(list.data ?? []).map((s) => (
          <li key={s.schedule_id} className="card">
            <p>
              <strong>{s.prompt}</strong>
            </p>
            <p className="hint">
              {s.cron ? `cron ${s.cron}` : s.every_seconds ? everyLabel(s.every_seconds) : ""} ({s.timezone})
              {s.paused ? " · paused" : s.next_run_at ? ` · next in ${countdown(s.next_run_at)}` : ""}
            </p>
            <div className="actions">
              {s.paused ? (
                <button type="button" onClick={() => act.mutate({ id: s.schedule_id, action: "resume" })}>Resume</button>
              ) : (
                <button type="button" onClick={() => act.mutate({ id: s.schedule_id, action: "pause" })}>Pause</button>
              )}
              <button type="button" onClick={() => act.mutate({ id: s.schedule_id, action: "trigger" })}>Run now</button>
              <button type="button" className="reject" onClick={() => act.mutate({ id: s.schedule_id, action: "delete" })}>Delete</button>
            </div>
            <RecentRuns id={s.schedule_id} />
          </li>
        ))}
        {list.data && list.data.length === 0 && <li className="hint">No schedules yet.</li>}
      </ul>
    </Page>
  );
}

/** A schedule's last runs, newest first, each with its answer (or why it failed). */
function RecentRuns({ id }: { id: string }) {
  const detail = useQuery({ queryKey: ["schedule", id], queryFn: () => getSchedule(id), retry: false, refetchInterval: 5000 });
  const runs: ScheduleRun[] = detail.data?.recent_runs ?? [];
  if (detail.error) return <p className="error-box">Its runs could not be read: {detail.error.message}</p>;
  if (!detail.data) return null;
  if (runs.length === 0) return <p className="hint">No runs yet: press Run now, or wait for the next one.</p>;
  const newest = newestFirst(runs, (r) => r.started_at ?? r.scheduled_at).slice(0, 5);
  return (
    <section aria-label="Recent runs">
      <p className="hint">Recent runs ({runs.length})</p>
      <ul className="runs">
        {newest.map((r) => (
          <li key={r.workflow_id} className={r.error ? "run-failed" : undefined}>
            <span className="when">{ago(r.started_at ?? r.scheduled_at)}</span> · {r.status.toLowerCase()}
            {r.reply ? `: ${r.reply}` : ""}
            {r.error ? `: ${r.error}` : ""}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function AlertsPage() {
  const qc = useQueryClient();
  const list = useQuery({ queryKey: ["alerts"], queryFn: listAlerts, retry: false, refetchInterval: 5000 });
  const [kind, setKind] = useState<"price" | "wallet">("price");
  const [symbol, setSymbol] = useState("ETH");
  const [rule, setRule] = useState<"above" | "below" | "move_pct">("above");
  const [value, setValue] = useState("");
  const [address, setAddress] = useState("");
  const [direction, setDirection] = useState<"in" | "out" | "both">("both");
  const refresh = () => qc.invalidateQueries({ queryKey: ["alerts"] });
  const create = useMutation({
    mutationFn: () => {
      const body: AlertCreate =
        kind === "price" ? { kind, symbol, [rule]: value } : { kind, address: address.trim(), direction };
      if (kind === "price" && rule === "move_pct") body.window_seconds = 3600;
      return createAlert(body);
    },
    onSuccess: refresh,
  });
  const remove = useMutation({ mutationFn: deleteAlert, onSuccess: refresh });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const missing = list.error instanceof ApiError && list.error.status === 404;
  return (
    <Page id="alerts-title" title="Alerts">
      <Unavailable what="Alerts" error={list.error} />
      {!missing && (
        <form className="card form-grid" onSubmit={submit}>
          <label htmlFor="a-kind">Kind</label>
          <select id="a-kind" value={kind} onChange={(e) => setKind(e.target.value as "price" | "wallet")}>
            <option value="price">price</option>
            <option value="wallet">wallet</option>
          </select>
          {kind === "price" ? (
            <>
              <label htmlFor="a-symbol">Symbol</label>
              <input id="a-symbol" value={symbol} onChange={(e) => setSymbol(e.target.value.toUpperCase())} />
              <label htmlFor="a-rule">When</label>
              <select id="a-rule" value={rule} onChange={(e) => setRule(e.target.value as typeof rule)}>
                <option value="above">price above</option>
                <option value="below">price below</option>
                <option value="move_pct">moves by % within an hour</option>
              </select>
              <label htmlFor="a-value">Value</label>
              <input id="a-value" value={value} onChange={(e) => setValue(e.target.value)} required inputMode="decimal" />
            </>
          ) : (
            <>
              <label htmlFor="a-address">Address</label>
              <input id="a-address" value={address} onChange={(e) => setAddress(e.target.value)} required placeholder="0x…" />
              <label htmlFor="a-direction">Direction</label>
              <select id="a-direction" value={direction} onChange={(e) => setDirection(e.target.value as typeof direction)}>
                <option value="both">in and out</option>
                <option value="in">in</option>
                <option value="out">out</option>
              </select>
            </>
          )}
          <button type="submit" disabled={create.isPending}>
            Create alert
          </button>
          {create.error && <p className="error" role="alert">{create.error.message}</p>}
        </form>
      )}
      <ul className="cards">
        {(list.data ?? []).map((a) => (
          <li key={a.alert_id} className="card">
            <p>
              <strong>{a.description}</strong>
            </p>
            <p className="hint">
              {a.armed ? "armed" : "cooling down"} · fired {a.fired_count}×{a.last_fired_at ? `, last ${ago(a.last_fired_at)}` : ""}
              {a.last_price ? ` · last price ${a.last_price}` : ""}
            </p>
            <button type="button" className="reject" onClick={() => remove.mutate(a.alert_id)}>
              Delete
            </button>
          </li>
        ))}
        {list.data && list.data.length === 0 && <li className="hint">No alerts yet.</li>}
      </ul>
    </Page>
  );
}

export function LinksPage() {
  const links = useQuery({ queryKey: ["links"], queryFn: listLinks, retry: false, refetchInterval: 5000 });
  const code = useMutation({ mutationFn: createLinkCode });
  const missing = links.error instanceof ApiError && links.error.status === 404;
  return (
    <Page id="links-title" title="Linked chats">
      <Unavailable what="Linked chats" error={links.error} />
      {!missing && (
        <div className="card">
          <button type="button" onClick={() => code.mutate()} disabled={code.isPending}>
            Make a link code
          </button>
          {code.data && (
            <div role="status">
              <p className="link-code">{code.data.code}</p>
              <p>
                Send <code>/link {code.data.code}</code> to the Telegram or Discord bot (valid {countdown(code.data.expires_at)}).
              </p>
            </div>
          )}
          {code.error && (
            <p className="error-box" role="alert">
              No code: {code.error.message}. Try again; if it keeps failing, the chat bots' service may be down.
            </p>
          )}
        </div>
      )}
      <ul className="cards">
        {(links.data ?? []).map((l) => (
          <li key={l.identity} className="card">
            <strong>{l.platform}</strong> {l.identity} {l.linked_at && <span className="hint">linked {ago(l.linked_at)}</span>}
          </li>
        ))}
        {links.data && links.data.length === 0 && <li className="hint">No linked chats.</li>}
      </ul>
    </Page>
  );
}
