// Names for the generated schema's types (src/api/schema.d.ts, made by `npm run schema`):
// a field renamed in the API breaks `tsc`, not the page.
import type { components } from "./schema";

type S = components["schemas"];
export type AgentOut = S["AgentOut"];
// title / last_active_at come with the sessions' titles (issue 17): optional until every API has them
export type SessionSummary = S["SessionSummary"] & { title?: string | null; last_active_at?: string | null };
export type SessionView = S["SessionView"];
export type SessionCreated = S["SessionCreated"];
export type ChatMessage = S["ChatMessage"];
export type ToolCallRecord = S["ToolCallRecord"];
export type PendingApproval = S["PendingApproval"];
export type TurnOut = S["TurnOut"];
/** one event of a turn's SSE stream (core/turn_events.py's union): folded by chat/turn.ts */
export type TurnStreamEvent = S["TurnStreamEvent"];
export type TurnPending = S["PendingTurn"];
export type ApprovalOut = S["ApprovalOut"];
export type Notification = S["Notification"];
export type VaultOut = S["VaultOut"];
export type VaultRegistered = S["VaultRegistered"];
/** POST /v1/vault/freeze: the vault paused on-chain, and the owner's unpause() transaction */
export type FreezeOut = S["FreezeOut"];
export type OwnerTransaction = S["OwnerTransaction"];

/** PendingApproval.simulation (chain/simulation.py): raw amounts in base units, `display` for people */
export interface Simulation {
  vault_balance_before?: string;
  vault_balance_after?: string;
  recipient_balance_before?: string;
  recipient_balance_after?: string;
  fee_wei?: string;
  fee_usd?: string | null;
  daily_limit_left_after?: string;
  will_revert?: boolean;
  revert_reason?: string | null;
  display?: Partial<Record<"amount" | "vault_balance_before" | "vault_balance_after" | "recipient_balance_before" | "recipient_balance_after" | "fee" | "daily_limit_left_after", string>>;
}

// Endpoints that may not be in every deployment's schema yet (schedules, alerts, links come with
// the automations and bots services): typed by hand here, shown as "not available" on a 404.
export interface ScheduleRun {
  scheduled_at: string | null;
  started_at: string | null;
  workflow_id: string;
  status: string;
  reply?: string | null;
  error?: string | null;
}
export interface ScheduleOut {
  schedule_id: string;
  prompt: string;
  agent: string;
  cron?: string | null;
  every_seconds?: number | null;
  timezone: string;
  paused: boolean;
  note?: string | null;
  next_run_at?: string | null;
  recent_runs: ScheduleRun[];
}
export interface ScheduleCreate {
  prompt: string;
  cron?: string;
  every_seconds?: number;
  timezone: string;
  agent: string;
}
export interface AlertView {
  alert_id: string;
  kind: "price" | "wallet";
  description: string;
  rule: Record<string, unknown>;
  armed: boolean;
  fired_count: number;
  last_fired_at?: string | null;
  last_price?: string | null;
}
export interface AlertCreate {
  kind: "price" | "wallet";
  symbol?: string;
  above?: string;
  below?: string;
  move_pct?: string;
  window_seconds?: number;
  address?: string;
  direction?: "in" | "out" | "both";
  token?: string;
}
export interface LinkCode {
  code: string;
  expires_at: string;
  how: string;
}
export interface LinkedIdentity {
  identity: string;
  platform: string;
  linked_at?: string | null;
}

/** GET /v1/client: what the page needs before anyone signs in (see api/routers/client.py);
 * `features` names the optional endpoints this API serves: "cancel" (Stop), "rename" */
export type ClientConfig = S["ClientConfig"];
