/** Runtime configuration: /config.json, written by the local gateway or at deploy time. */
export interface RuntimeConfig {
  apiBase: string; // e.g. "/api/v1" or "https://api.example.com/prod/api/v1"
  wsUrl: string | null; // the WebSocket API, e.g. "ws://127.0.0.1:3000/ws"
  widgetUrl: string; // where widget.js is served, for the embed snippet and the preview
}

export async function loadConfig(): Promise<RuntimeConfig> {
  let raw: Partial<RuntimeConfig> = {};
  try {
    const res = await fetch("/config.json", { cache: "no-store" });
    if (res.ok) raw = (await res.json()) as Partial<RuntimeConfig>;
  } catch {
    /* no config.json (vite dev server without the gateway): same-origin defaults */
  }
  const apiBase = (raw.apiBase || "/api/v1").replace(/\/+$/, "");
  let wsUrl = raw.wsUrl ?? null;
  if (!wsUrl) {
    const u = new URL(apiBase, location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.pathname = "/ws";
    wsUrl = u.toString();
  }
  return { apiBase, wsUrl, widgetUrl: raw.widgetUrl || new URL("/widget.js", location.href).toString() };
}
