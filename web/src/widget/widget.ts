/**
 * <claw-widget assistant="<public_id>" api="https://host/api/v1" [ws="wss://…"]>
 *
 * A visitor's chat with one assistant: a launcher bubble, a panel with the welcome message and
 * suggested questions, streamed answers with numbered citations, thumbs up/down. No framework,
 * no host-page assumptions: everything lives in an open shadow root.
 */
import { splitCitations } from "../shared/citations";
import { problemMessage } from "../shared/problem";
import { applyFrame, emptyAnswer, type Frame, type Source, type StreamedAnswer } from "../shared/stream";
import { STYLES } from "./styles";

interface AssistantInfo {
  name: string;
  welcome_message?: string | null;
  suggested_questions?: string[] | null;
}

interface Session {
  token: string;
  expiresAt: number; // ms since epoch
  assistant: AssistantInfo;
}

interface Entry {
  role: "user" | "assistant";
  text: string;
  sources?: Source[];
  messageId?: string;
  noAnswer?: boolean;
  error?: string;
  streaming?: boolean;
  feedback?: "up" | "down";
  open?: number[]; // expanded source numbers
}

interface Stored {
  session?: Session;
  transcript: Entry[];
}

const T = {
  en: {
    open: "Open chat",
    close: "Close chat",
    placeholder: "Ask a question…",
    send: "Send",
    up: "Helpful",
    down: "Not helpful",
    sources: "Sources",
    thanks: "Thanks for the feedback",
    reconnecting: "Connection lost, reconnecting…",
    unavailable: "The assistant is unavailable right now.",
    newChat: "New conversation",
  },
  zh: {
    open: "打开对话",
    close: "关闭对话",
    placeholder: "请输入您的问题…",
    send: "发送",
    up: "有帮助",
    down: "没帮助",
    sources: "来源",
    thanks: "感谢您的反馈",
    reconnecting: "连接已断开，正在重连…",
    unavailable: "助手暂时不可用。",
    newChat: "新对话",
  },
};

const THUMB =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"/></svg>';
const ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

class HttpError extends Error {
  constructor(
    public status: number,
    body: unknown,
  ) {
    super(problemMessage(status, body));
  }
}

export class ClawWidget extends HTMLElement {
  private root: ShadowRoot;
  private panel!: HTMLDivElement;
  private log!: HTMLDivElement;
  private statusLine!: HTMLDivElement;
  private input!: HTMLTextAreaElement;
  private sendButton!: HTMLButtonElement;
  private launcher!: HTMLButtonElement;
  private heading!: HTMLHeadingElement;
  private state: Stored = { transcript: [] };
  private ws: WebSocket | null = null;
  private wsReady: Promise<WebSocket> | null = null;
  private wsFailed = false;
  private pending: ((f: Frame) => void) | null = null;
  private busy = false;
  private retryDelay = 1000;
  private t = T.en;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
  }

  get publicId(): string {
    return this.getAttribute("assistant") || "";
  }
  get api(): string {
    return (this.getAttribute("api") || "/api/v1").replace(/\/+$/, "");
  }
  /** The WebSocket URL: the `ws` attribute, else derived from the API's origin (…/ws). */
  get wsUrl(): string | null {
    const explicit = this.getAttribute("ws");
    if (explicit === "off") return null;
    if (explicit) return explicit;
    try {
      const u = new URL(this.api, location.href);
      u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
      u.pathname = "/ws";
      u.search = "";
      return u.toString();
    } catch {
      return null;
    }
  }
  private get storageKey(): string {
    return `claw-widget:${this.publicId}`;
  }

  connectedCallback(): void {
    const lang = (this.getAttribute("lang") || navigator.language || "en").toLowerCase();
    this.t = lang.startsWith("zh") ? T.zh : T.en;
    this.load();
    this.build();
    this.render();
    if (this.hasAttribute("open")) this.toggle(true);
  }

  disconnectedCallback(): void {
    this.ws?.close();
    this.ws = null;
  }

  // ---------------------------------------------------------------- persistence
  private load(): void {
    try {
      const raw = localStorage.getItem(this.storageKey);
      if (raw) this.state = JSON.parse(raw) as Stored;
    } catch {
      this.state = { transcript: [] };
    }
    if (!Array.isArray(this.state.transcript)) this.state.transcript = [];
    // An answer that was streaming when the page went away is not coming back on this socket.
    for (const e of this.state.transcript) if (e.streaming) e.streaming = false;
  }
  private save(): void {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(this.state));
    } catch {
      /* storage full or blocked: the chat still works for this page */
    }
  }

  // ---------------------------------------------------------------- DOM
  private build(): void {
    const style = el("style");
    style.textContent = STYLES;
    this.heading = el("h2", { id: "claw-title" });
    const close = el("button", { type: "button", "aria-label": this.t.close, class: "close" }, "×");
    close.addEventListener("click", () => this.toggle(false));
    const reset = el("button", { type: "button", "aria-label": this.t.newChat, title: this.t.newChat, class: "reset" }, "↺");
    reset.addEventListener("click", () => {
      this.state.transcript = [];
      this.save();
      this.render();
    });
    this.statusLine = el("div", { class: "status", role: "status" });
    this.log = el("div", { class: "log", role: "log", "aria-live": "polite" });
    this.input = el("textarea", { rows: "1", placeholder: this.t.placeholder, "aria-label": this.t.placeholder });
    this.sendButton = el("button", { type: "submit" }, this.t.send);
    const form = el("form", {}, this.input, this.sendButton);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.ask(this.input.value);
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this.ask(this.input.value);
      }
    });
    this.panel = el(
      "div",
      { class: "panel", role: "dialog", "aria-labelledby": "claw-title", hidden: "" },
      el("header", {}, this.heading, reset, close),
      this.statusLine,
      this.log,
      form,
    );
    this.panel.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        this.toggle(false);
        this.launcher.focus();
      }
    });
    this.launcher = el("button", { type: "button", class: "launcher", "aria-label": this.t.open, "aria-expanded": "false" });
    this.launcher.innerHTML = ICON;
    this.launcher.addEventListener("click", () => this.toggle(this.panel.hasAttribute("hidden")));
    this.root.append(style, el("div", { class: "claw" }, this.panel, this.launcher));
  }

  private toggle(open: boolean): void {
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    this.launcher.setAttribute("aria-label", open ? this.t.close : this.t.open);
    if (open) {
      this.input.focus();
      void this.ensureSession().then(
        () => this.render(),
        (err: Error) => this.setStatus(err.message || this.t.unavailable),
      );
    }
  }

  private setStatus(text: string): void {
    this.statusLine.textContent = text;
  }

  private render(): void {
    const info = this.state.session?.assistant;
    this.heading.textContent = info?.name || "Chat";
    this.log.replaceChildren();
    if (info?.welcome_message) this.log.append(el("div", { class: "msg assistant welcome" }, info.welcome_message));
    if (!this.state.transcript.length && info?.suggested_questions?.length) {
      const box = el("div", { class: "suggest" });
      for (const q of info.suggested_questions) {
        const b = el("button", { type: "button" }, q);
        b.addEventListener("click", () => void this.ask(q));
        box.append(b);
      }
      this.log.append(box);
    }
    this.state.transcript.forEach((entry, i) => this.log.append(this.renderEntry(entry, i)));
    this.sendButton.disabled = this.busy;
    this.log.scrollTop = this.log.scrollHeight;
  }

  private renderEntry(e: Entry, index: number): HTMLElement {
    if (e.role === "user") return el("div", { class: "msg user" }, e.text);
    const cls = ["msg", "assistant"];
    if (e.error) cls.push("error");
    if (e.noAnswer) cls.push("noanswer");
    const box = el("div", { class: cls.join(" "), "data-index": String(index) });
    if (e.error) {
      box.append(e.error);
      return box;
    }
    const body = el("div", { class: e.streaming ? "text typing" : "text" });
    const sources = e.sources || [];
    for (const seg of splitCitations(e.text, sources.length)) {
      if (seg.kind === "text") body.append(seg.text);
      else {
        const b = el("button", { type: "button", class: "cite", "aria-label": `${this.t.sources} ${seg.n}` }, String(seg.n));
        b.addEventListener("click", () => this.toggleSource(e, seg.n));
        body.append(b);
      }
    }
    box.append(body);
    if (sources.length && !e.streaming) {
      const list = el("ol", { class: "sources", "aria-label": this.t.sources });
      sources.forEach((s, i) => {
        const n = i + 1;
        const b = el("button", { type: "button", "aria-expanded": String(!!e.open?.includes(n)) }, `[${n}] ${s.title}`);
        b.addEventListener("click", () => this.toggleSource(e, n));
        const li = el("li", {}, b);
        if (e.open?.includes(n)) li.append(el("div", { class: "snippet" }, s.snippet));
        list.append(li);
      });
      box.append(list);
    }
    if (e.messageId && !e.streaming) {
      const meta = el("div", { class: "meta" });
      for (const rating of ["up", "down"] as const) {
        const label = rating === "up" ? this.t.up : this.t.down;
        const b = el(
          "button",
          { type: "button", "aria-label": label, title: label, "aria-pressed": String(e.feedback === rating), "data-rating": rating },
        );
        b.innerHTML = THUMB;
        b.addEventListener("click", () => void this.feedback(e, rating));
        meta.append(b);
      }
      if (e.feedback) meta.append(el("span", {}, this.t.thanks));
      box.append(meta);
    }
    return box;
  }

  private toggleSource(e: Entry, n: number): void {
    const open = new Set(e.open || []);
    if (open.has(n)) open.delete(n);
    else open.add(n);
    e.open = [...open];
    this.save();
    this.render();
  }

  // ---------------------------------------------------------------- API
  private async post(path: string, body: unknown, auth?: string): Promise<unknown> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (auth) headers.Authorization = `Bearer ${auth}`;
    const res = await fetch(`${this.api}/public/assistants/${encodeURIComponent(this.publicId)}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!res.ok) throw new HttpError(res.status, data);
    return data;
  }

  /** A session token for this assistant, kept across page loads until it expires. */
  private async ensureSession(force = false): Promise<Session> {
    const s = this.state.session;
    if (!force && s && s.expiresAt - 30_000 > Date.now()) return s;
    const data = (await this.post("/sessions", {})) as { session_token: string; expires_in: number; assistant: AssistantInfo };
    this.state.session = {
      token: data.session_token,
      expiresAt: Date.now() + (data.expires_in || 900) * 1000,
      assistant: data.assistant || { name: "" },
    };
    this.save();
    this.closeSocket();
    this.wsFailed = false; // a new token may be accepted where the old one was refused
    return this.state.session;
  }

  private closeSocket(): void {
    const ws = this.ws;
    this.ws = null;
    this.wsReady = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  }

  private openSocket(token: string): Promise<WebSocket> {
    if (this.wsReady) return this.wsReady;
    const url = this.wsUrl;
    if (!url || this.wsFailed) return Promise.reject(new Error("no websocket"));
    this.wsReady = new Promise<WebSocket>((resolve, reject) => {
      const sep = url.includes("?") ? "&" : "?";
      const ws = new WebSocket(`${url}${sep}token=${encodeURIComponent(token)}`);
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.ws = ws;
        this.retryDelay = 1000;
        this.setStatus("");
        resolve(ws);
      };
      ws.onmessage = (ev) => {
        let frame: Frame;
        try {
          frame = JSON.parse(String(ev.data)) as Frame;
        } catch {
          return;
        }
        this.pending?.(frame);
      };
      ws.onclose = () => {
        this.ws = null;
        this.wsReady = null;
        if (!opened) {
          // Refused at the handshake (no visitor streaming here): answer over HTTPS from now on.
          this.wsFailed = true;
          reject(new Error("refused"));
          return;
        }
        // Dropped: fail the answer in flight, then come back with a backoff while the panel is open.
        this.pending?.({ type: "error", status: 0, detail: this.t.reconnecting });
        this.setStatus(this.t.reconnecting);
        const delay = this.retryDelay;
        this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
        setTimeout(() => {
          if (!this.isConnected || this.panel.hidden || this.ws) return;
          const s = this.state.session;
          if (s) this.openSocket(s.token).catch(() => this.setStatus(""));
        }, delay);
      };
    });
    return this.wsReady;
  }

  async ask(raw: string): Promise<void> {
    const question = raw.trim();
    if (!question || this.busy || !this.publicId) return;
    this.busy = true;
    this.input.value = "";
    this.state.transcript.push({ role: "user", text: question });
    const entry: Entry = { role: "assistant", text: "", streaming: true };
    this.state.transcript.push(entry);
    this.render();
    try {
      await this.answer(question, entry, true);
    } catch (err) {
      entry.error = (err as Error).message || this.t.unavailable;
    } finally {
      entry.streaming = false;
      this.busy = false;
      this.save();
      this.render();
      this.input.focus();
    }
  }

  private async answer(question: string, entry: Entry, mayRenew: boolean): Promise<void> {
    const session = await this.ensureSession();
    let ws: WebSocket | null = null;
    try {
      ws = await this.openSocket(session.token);
    } catch {
      ws = null;
    }
    if (ws) {
      const result = await this.streamOver(ws, question, entry);
      if (result.state === "error" && result.status === 401 && mayRenew) {
        await this.ensureSession(true);
        return this.answer(question, entry, false);
      }
      if (result.state === "error") throw new Error(result.error);
      return;
    }
    try {
      const data = (await this.post("/chat", { message: question }, session.token)) as {
        message_id: string;
        content: string;
        sources?: Source[];
        no_answer?: boolean;
      };
      entry.text = data.content;
      entry.sources = data.sources || [];
      entry.messageId = data.message_id;
      entry.noAnswer = !!data.no_answer;
    } catch (err) {
      if (err instanceof HttpError && err.status === 401 && mayRenew) {
        await this.ensureSession(true);
        return this.answer(question, entry, false);
      }
      throw err;
    }
  }

  private streamOver(ws: WebSocket, question: string, entry: Entry): Promise<StreamedAnswer & { status?: number }> {
    return new Promise((resolve) => {
      let acc = emptyAnswer();
      let status: number | undefined;
      this.pending = (frame) => {
        if (frame.type === "error") status = frame.status;
        acc = applyFrame(acc, frame, (f) => problemMessage(f.status || 0, f));
        entry.text = acc.text;
        entry.sources = acc.sources;
        if (acc.state === "streaming") {
          this.renderStreaming(entry);
          return;
        }
        this.pending = null;
        entry.messageId = acc.messageId;
        entry.noAnswer = acc.noAnswer;
        resolve({ ...acc, status });
      };
      ws.send(JSON.stringify({ action: "visitor_chat", message: question }));
    });
  }

  /** While streaming only the last bubble changes: update its text instead of re-rendering all. */
  private renderStreaming(entry: Entry): void {
    const last = this.log.lastElementChild as HTMLElement | null;
    const text = last?.querySelector(".text");
    if (text) text.textContent = entry.text;
    else this.render();
    this.log.scrollTop = this.log.scrollHeight;
  }

  private async feedback(e: Entry, rating: "up" | "down"): Promise<void> {
    if (!e.messageId) return;
    try {
      const s = await this.ensureSession();
      await this.post("/feedback", { message_id: e.messageId, rating }, s.token);
      e.feedback = rating;
      this.setStatus("");
    } catch (err) {
      this.setStatus((err as Error).message);
    }
    this.save();
    this.render();
  }
}
