// Typed calls to the public API (one function per endpoint the client uses).
import { api, authHeaders, send } from "./http";
import { followTurn, type SseEvent, type TurnDone } from "./sse";
import type {
  AgentOut,
  AlertCreate,
  AlertView,
  ClientConfig,
  LinkCode,
  LinkedIdentity,
  ScheduleCreate,
  ScheduleOut,
  ApprovalOut,
  FreezeOut,
  Notification,
  SessionCreated,
  SessionSummary,
  SessionView,
  TurnOut,
  TurnPending,
  VaultOut,
  VaultRegistered,
} from "./types";

const sid = (id: string) => encodeURIComponent(id);

export const getClientConfig = () => api<ClientConfig>("GET", "/v1/client");
export const listAgents = () => api<AgentOut[]>("GET", "/v1/agents");
export const listSessions = () => api<SessionSummary[]>("GET", "/v1/sessions");
export const getSession = (id: string) => api<SessionView>("GET", `/v1/sessions/${sid(id)}`);
export const createSession = (agent: string) =>
  api<SessionCreated>("POST", "/v1/sessions", { body: { agent, platform: "web" } });
export const endSession = (id: string) => api<void>("DELETE", `/v1/sessions/${sid(id)}`);
export const renameSession = (id: string, title: string) =>
  api<{ title: string }>("PATCH", `/v1/sessions/${sid(id)}`, { body: { title } });
/** Stop the running turn: its stream ends with a `cancelled` event */
export const cancelTurn = (id: string) => api<TurnOut>("POST", `/v1/sessions/${sid(id)}/turns/current/cancel`);
export const decide = (id: string, callId: string, approve: boolean) =>
  api<ApprovalOut>("POST", `/v1/sessions/${sid(id)}/approvals/${encodeURIComponent(callId)}`, { body: { approve } });
/** Cancel a transfer in its undo window (status `scheduled`): nothing is sent; 409 once it was sent or decided */
export const cancelTransfer = (id: string, callId: string) =>
  api<ApprovalOut>("POST", `/v1/sessions/${sid(id)}/approvals/${encodeURIComponent(callId)}/cancel`);
export const listNotifications = () => api<Notification[]>("GET", "/v1/notifications");
export const getVault = () => api<VaultOut>("GET", "/v1/vault");
/** Freeze the vault: pause() on-chain; only the owner's wallet can undo it (FreezeOut.unfreeze) */
export const freezeVault = () => api<FreezeOut>("POST", "/v1/vault/freeze");
export const registerVault = (owner: string) =>
  api<VaultRegistered>("POST", "/v1/vault", { body: { owner_address: owner } });

export function newMessageId(): string {
  return `web-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export type SendOutcome =
  | { kind: "done"; reply: string; status?: string }
  | { kind: "pending"; pending: TurnPending };

/** Send one message: streamed (SSE) when the API streams, else the plain answer (200 with the
 * reply, 202 while pending or queued behind an approval). `onEvent` sees each stream event. */
export async function sendMessage(
  id: string,
  text: string,
  messageId: string,
  onEvent: (ev: SseEvent, data: Record<string, unknown>) => void,
): Promise<SendOutcome> {
  const base = `/v1/sessions/${sid(id)}/messages`;
  const first = await send("POST", `${base}?stream=true&wait=30`, { body: { text, message_id: messageId } });
  const type = first.headers.get("Content-Type") ?? "";
  if (!type.startsWith("text/event-stream")) {
    const body = (await first.json()) as TurnOut | TurnPending;
    if (first.status === 202) return { kind: "pending", pending: body as TurnPending };
    const out = body as TurnOut;
    return { kind: "done", reply: out.reply, status: out.status };
  }
  const done: TurnDone = await followTurn({
    fetcher: (path, init) => fetch(path, init),
    first: async () => first,
    resumePath: `${base}/${encodeURIComponent(messageId)}/events`,
    headers: () => authHeaders(),
    onEvent,
  });
  return { kind: "done", reply: done.reply, status: done.status };
}

// automations (schedules, alerts) and bots endpoints (see types.ts)
export const listSchedules = () => api<ScheduleOut[]>("GET", "/v1/schedules");
/** one schedule with its recent runs (the list leaves them out: each costs a describe) */
export const getSchedule = (id: string) => api<ScheduleOut>("GET", `/v1/schedules/${encodeURIComponent(id)}`);
export const createSchedule = (body: ScheduleCreate) => api<unknown>("POST", "/v1/schedules", { body });
export const scheduleAction = (id: string, action: "pause" | "resume" | "trigger") =>
  api<ScheduleOut>("POST", `/v1/schedules/${encodeURIComponent(id)}/${action}`);
export const deleteSchedule = (id: string) => api<void>("DELETE", `/v1/schedules/${encodeURIComponent(id)}`);
export const listAlerts = () => api<AlertView[]>("GET", "/v1/alerts");
export const createAlert = (body: AlertCreate) => api<unknown>("POST", "/v1/alerts", { body });
export const deleteAlert = (id: string) => api<void>("DELETE", `/v1/alerts/${encodeURIComponent(id)}`);
export const listLinks = () => api<LinkedIdentity[]>("GET", "/v1/links");
// the endpoint takes an empty object (no options yet): without a body it answers 422
export const createLinkCode = () => api<LinkCode>("POST", "/v1/links", { body: {} });
