/**
 * The console's only back end is the public API: bearer tokens, refresh rotation
 * (POST /auth/refresh when the access token has expired, then the request is retried once),
 * problem+json errors as ApiError.
 */
import { ApiError } from "../shared/problem";

export { ApiError };

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  expires_at?: number;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

const STORAGE = "claw-console-tokens";

export class Api {
  private tokens: Tokens | null = null;
  private refreshing: Promise<boolean> | null = null;
  onSignedOut: () => void = () => {};

  constructor(public base: string) {
    try {
      const raw = localStorage.getItem(STORAGE);
      if (raw) this.tokens = JSON.parse(raw) as Tokens;
    } catch {
      this.tokens = null;
    }
  }

  get signedIn(): boolean {
    return !!this.tokens;
  }

  get accessToken(): string | null {
    return this.tokens?.access_token ?? null;
  }

  setTokens(t: Tokens | null): void {
    this.tokens = t ? { ...t, expires_at: Date.now() + t.expires_in * 1000 } : null;
    if (this.tokens) localStorage.setItem(STORAGE, JSON.stringify(this.tokens));
    else localStorage.removeItem(STORAGE);
  }

  /** A fresh access token (refreshed first when it is about to expire), e.g. for the WebSocket. */
  async freshAccessToken(): Promise<string> {
    if (this.tokens?.expires_at && this.tokens.expires_at - 15_000 < Date.now()) await this.refresh();
    if (!this.tokens) throw new ApiError(401, { detail: "Signed out" });
    return this.tokens.access_token;
  }

  async login(email: string, password: string): Promise<void> {
    const t = await this.request<Tokens>("POST", "/auth/login", { email, password }, { auth: false });
    this.setTokens(t);
  }

  async logout(): Promise<void> {
    const refresh = this.tokens?.refresh_token;
    try {
      if (refresh) await this.request("POST", "/auth/logout", { refresh_token: refresh });
    } catch {
      /* signing out locally is what matters */
    }
    this.setTokens(null);
    this.onSignedOut();
  }

  /** Rotate the refresh token; one refresh at a time even when many requests hit 401 together. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      const refresh_token = this.tokens?.refresh_token;
      this.refreshing = (async () => {
        if (!refresh_token) return false;
        try {
          const t = await this.request<Tokens>("POST", "/auth/refresh", { refresh_token }, { auth: false });
          this.setTokens(t);
          return true;
        } catch {
          this.setTokens(null);
          this.onSignedOut();
          return false;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: { auth?: boolean; query?: Record<string, string | number | boolean | undefined | null>; retried?: boolean } = {},
  ): Promise<T> {
    const auth = opts.auth !== false;
    if (auth && this.tokens?.expires_at && this.tokens.expires_at - 5_000 < Date.now()) await this.refresh();
    const headers: Record<string, string> = { Accept: "application/json" };
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    if (auth && this.tokens) headers.Authorization = `Bearer ${this.tokens.access_token}`;
    let res: Response;
    try {
      res = await fetch(this.url(path, opts.query), { method, headers, body: payload });
    } catch {
      throw new ApiError(0, { detail: "The API cannot be reached. Check your connection." });
    }
    if (res.status === 401 && auth && !opts.retried && this.tokens) {
      if (await this.refresh()) return this.request<T>(method, path, body, { ...opts, retried: true });
    }
    const data = await readBody(res);
    if (!res.ok) throw new ApiError(res.status, data);
    return data as T;
  }

  url(path: string, query?: Record<string, string | number | boolean | undefined | null>): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const qs = q.toString();
    return `${this.base}${path}${qs ? `?${qs}` : ""}`;
  }

  /** A multipart upload through XMLHttpRequest, which reports upload progress (fetch does not). */
  async upload<T>(path: string, form: FormData, onProgress: (fraction: number) => void, retried = false): Promise<T> {
    if (this.tokens?.expires_at && this.tokens.expires_at - 5_000 < Date.now()) await this.refresh();
    const { status, data } = await xhrSend("POST", this.url(path), form, onProgress, this.tokens?.access_token);
    if (status === 401 && !retried && (await this.refresh())) return this.upload<T>(path, form, onProgress, true);
    if (status < 200 || status >= 300) throw new ApiError(status, data);
    return data as T;
  }
}

async function readBody(res: Response): Promise<unknown> {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** POST a form with progress; used for multipart uploads and presigned S3 POSTs. */
export function xhrSend(
  method: string,
  url: string,
  body: FormData | Blob,
  onProgress: (fraction: number) => void,
  bearer?: string | null,
  headers: Record<string, string> = {},
): Promise<{ status: number; data: unknown }> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    if (bearer) xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
    };
    xhr.onload = () => {
      let data: unknown = xhr.responseText;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        /* S3 answers XML; keep the text */
      }
      onProgress(1);
      resolve({ status: xhr.status, data });
    };
    xhr.onerror = () => resolve({ status: 0, data: { detail: "Upload failed: network error" } });
    xhr.send(body);
  });
}
