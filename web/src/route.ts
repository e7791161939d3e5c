import { useEffect, useState } from "react";

// The page lives in the URL hash (#/sessions/<id>), so a reload reopens it and the API serves
// one static page for every view.
export type Route =
  | { page: "sessions"; sessionId: string | null }
  | { page: "notifications" | "vault" | "schedules" | "alerts" | "links" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "notifications":
    case "vault":
    case "schedules":
    case "alerts":
    case "links":
      return { page: parts[0] };
    default:
      return { page: "sessions", sessionId: parts[0] === "sessions" && parts[1] ? parts[1] : null };
  }
}

export const sessionHref = (id: string) => `#/sessions/${encodeURIComponent(id)}`;

export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parseRoute(hash);
}
