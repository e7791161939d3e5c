// The one fetch wrapper: API key (sessionStorage, Authorization: Bearer), typed errors
// (401 asks for a key, 429 says when to retry) and retries of idempotent requests.

const KEY_STORAGE = "impressox.apiKey";

export function getApiKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? "";
  } catch {
    return "";
  }
}

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** seconds to wait, from Retry-After (429 and 503) */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = getApiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

async function errorOf(r: Response): Promise<ApiError> {
  const body = (await r.json().catch(() => ({}))) as { error?: string };
  return new ApiError(r.status, body.error ?? r.statusText ?? `HTTP ${r.status}`, parseRetryAfter(r.headers.get("Retry-After")));
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** retries after a network error or a 502/503/504 (GETs retry by default) */
  retries?: number;
  signal?: AbortSignal;
}

/** Send a request; answers the raw Response when ok (callers choose json or a stream). */
export async function send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const retries = opts.retries ?? (method === "GET" ? 2 : 0);
  const headers = authHeaders(opts.headers);
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  for (let attempt = 0; ; attempt++) {
    let r: Response;
    try {
      r = await fetch(path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      if (attempt >= retries || opts.signal?.aborted) throw new ApiError(0, `network error: ${String(err)}`);
      await sleep(300 * 2 ** attempt);
      continue;
    }
    if (r.ok) return r;
    if ([502, 503, 504].includes(r.status) && attempt < retries) {
      await sleep(300 * 2 ** attempt);
      continue;
    }
    throw await errorOf(r);
  }
}

export async function api<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const r = await send(method, path, opts);
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}
