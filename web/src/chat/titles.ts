// Session titles: the API's (its first message, or a rename) when it gives one; else what this
// browser kept: the first message sent from here, or a local rename (an API without
// PATCH /v1/sessions/{id} keeps titles per browser only).
import { useSyncExternalStore } from "react";
import type { SessionSummary } from "../api/types";

const FIRST = "impressox.sessionFirstMessages";
const RENAMED = "impressox.sessionRenames";
const MAX = 60;

function read(key: string): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}

export function clip(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > MAX ? `${one.slice(0, MAX - 1)}…` : one;
}

function write(key: string, sessionId: string, title: string): void {
  const all = read(key);
  all[sessionId] = clip(title);
  try {
    localStorage.setItem(key, JSON.stringify(all));
  } catch {
    // storage full or off: the title lasts until the reload
  }
  snapshot = null;
  listeners.forEach((l) => l());
}

const listeners = new Set<() => void>();
let snapshot: LocalTitles | null = null;

/** The local titles, re-rendering when one is kept (the API's list may not change meanwhile). */
export function useLocalTitles(): LocalTitles {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    localTitles,
  );
}

/** The first message sent to a session from this browser (later ones do not change it). */
export function keepFirstMessage(sessionId: string, text: string): void {
  if (!read(FIRST)[sessionId]) write(FIRST, sessionId, text);
}

/** A rename kept in this browser (when the API cannot keep it). */
export function keepRename(sessionId: string, title: string): void {
  write(RENAMED, sessionId, title);
}

export interface LocalTitles {
  first: Record<string, string>;
  renamed: Record<string, string>;
}

export function localTitles(): LocalTitles {
  snapshot ??= { first: read(FIRST), renamed: read(RENAMED) };
  return snapshot;
}

export function titleOf(s: Pick<SessionSummary, "session_id" | "title" | "agent">, local: LocalTitles = localTitles()): string {
  return local.renamed[s.session_id] || s.title?.trim() || local.first[s.session_id] || `New ${s.agent ?? "session"} chat`;
}
