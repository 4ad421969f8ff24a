import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { Api, Page } from "../api";
import { splitCitations } from "../../shared/citations";
import { problemMessage } from "../../shared/problem";
import { applyFrame, emptyAnswer, type Frame, type Source, type StreamedAnswer, type Usage } from "../../shared/stream";
import { Dialog, ErrorBox, fmtCost, fmtDate, Link, MoreButton, useApp, usePaged, useTr } from "../ui";
import type { KnowledgeBase } from "./Knowledge";

interface Conversation {
  id: string;
  title: string | null;
  conversation_type: string;
  status: string;
  model?: string | null;
  knowledge_base_id?: string | null;
  created_at: string;
  updated_at: string;
  message_count: number;
}

interface Message {
  id: string;
  role: "user" | "assistant" | "system";
  content: string;
  tokens?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  cost?: number;
  model?: string | null;
  cached?: boolean;
  status?: string;
  created_at?: string;
  sources?: Source[] | null;
}

/** One WebSocket per console tab: opened on the first question, reopened after a drop. */
class ChatSocket {
  private ws: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private listener: ((f: Frame) => void) | null = null;
  unavailable = false;

  constructor(
    private api: Api,
    private url: string | null,
  ) {}

  private open(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    if (this.opening) return this.opening;
    if (!this.url) return Promise.reject(new Error("no WebSocket URL"));
    const url = this.url;
    this.opening = this.api.freshAccessToken().then(
      (token) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`);
          let opened = false;
          ws.onopen = () => {
            opened = true;
            this.ws = ws;
            this.opening = null;
            resolve(ws);
          };
          ws.onmessage = (ev) => {
            try {
              this.listener?.(JSON.parse(String(ev.data)) as Frame);
            } catch {
              /* not a frame */
            }
          };
          ws.onclose = () => {
            if (this.ws !== ws && opened) return; // an old socket, already replaced
            this.ws = null;
            this.opening = null;
            if (!opened) reject(new Error("refused"));
            // A drop mid-answer: the server still stores the answer; the caller reloads it.
            else this.listener?.({ type: "error", status: 0, detail: "connection lost" });
          };
        }),
    );
    this.opening.catch(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** Send one question; `onFrame` sees every frame until `done` or `error`. */
  async ask(frame: Record<string, unknown>, onFrame: (f: Frame) => void): Promise<void> {
    const ws = await this.open();
    await new Promise<void>((resolve) => {
      this.listener = (f) => {
        onFrame(f);
        if (f.type === "done" || f.type === "error") {
          this.listener = null;
          resolve();
        }
      };
      ws.send(JSON.stringify({ action: "chat", ...frame }));
    });
  }

  close(): void {
    this.ws?.close();
  }
}

export function ChatPage({ conversationId }: { conversationId: string | null }): ReactNode {
  const { api, navigate } = useApp();
  const tr = useTr();
  const list = usePaged<Conversation>((cursor) => api.request<Page<Conversation>>("GET", "/conversations", undefined, { query: { cursor, limit: 30 } }), [api]);
  const kbs = usePaged<KnowledgeBase>((cursor) => api.request<Page<KnowledgeBase>>("GET", "/knowledge", undefined, { query: { cursor, limit: 100 } }), [api]);
  const [title, setTitle] = useState("");
  const [kbId, setKbId] = useState("");
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!kbId && kbs.items.length) setKbId(kbs.items[0].id);
  }, [kbs.items, kbId]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const c = await api.request<Conversation>("POST", "/conversations", {
        title: title || undefined,
        knowledge_base_id: kbId || undefined,
      });
      list.setItems((items) => [c, ...items]);
      setTitle("");
      navigate(`/chat/${c.id}`);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className={`chat-layout${conversationId ? " has-conversation" : ""}`}>
      <aside className="conversations">
        <h1>{tr("Conversations", "对话")}</h1>
        <form className="stack card" onSubmit={create} aria-label={tr("New conversation", "新对话")}>
          <label>
            {tr("Title", "标题")}
            <input name="conversation-title" value={title} onChange={(e) => setTitle(e.target.value)} />
          </label>
          <label>
            {tr("Knowledge base", "知识库")}
            <select name="conversation-kb" value={kbId} onChange={(e) => setKbId(e.target.value)}>
              <option value="">{tr("(none)", "（无）")}</option>
              {kbs.items.map((kb) => (
                <option key={kb.id} value={kb.id}>
                  {kb.name}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">{tr("New conversation", "新对话")}</button>
        </form>
        <ErrorBox error={error || list.error} />
        <ul className="conv-list">
          {list.items.map((c) => (
            <li key={c.id}>
              <Link to={`/chat/${c.id}`}>
                {c.title || tr("Untitled", "未命名")}
                <span className="small muted"> · {fmtDate(c.updated_at)}</span>
              </Link>
            </li>
          ))}
        </ul>
        <MoreButton list={list} />
      </aside>
      {conversationId ? (
        <ConversationView key={conversationId} id={conversationId} onDeleted={() => {
          list.setItems((items) => items.filter((c) => c.id !== conversationId));
          navigate("/chat");
        }} />
      ) : (
        <div className="empty-chat muted">{tr("Choose or start a conversation.", "选择或新建一个对话。")}</div>
      )}
    </section>
  );
}

function ConversationView({ id, onDeleted }: { id: string; onDeleted: () => void }): ReactNode {
  const { api, config } = useApp();
  const tr = useTr();
  const [conv, setConv] = useState<Conversation | null>(null);
  const messages = usePaged<Message>(
    (cursor) => api.request<Page<Message>>("GET", `/conversations/${id}/messages`, undefined, { query: { cursor, limit: 100 } }),
    [api, id],
  );
  const [draft, setDraft] = useState("");
  const [streaming, setStreaming] = useState<{ question: string; answer: StreamedAnswer } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cited, setCited] = useState<{ source: Source; n: number } | null>(null);
  const socket = useRef<ChatSocket | null>(null);
  const logEnd = useRef<HTMLDivElement>(null);

  useEffect(() => {
    api.request<Conversation>("GET", `/conversations/${id}`).then(setConv, setError);
    socket.current = new ChatSocket(api, config.wsUrl);
    return () => socket.current?.close();
  }, [api, id, config.wsUrl]);
  useEffect(() => {
    logEnd.current?.scrollIntoView({ block: "end" });
  }, [messages.items.length, streaming?.answer.text]);

  async function send(e?: FormEvent) {
    e?.preventDefault();
    const question = draft.trim();
    if (!question || streaming) return;
    setDraft("");
    setError(null);
    let answer = emptyAnswer();
    setStreaming({ question, answer });
    const describe = (f: Frame & { type: "error" }) => problemMessage(f.status || 0, f);
    let streamed = false;
    const ws = socket.current;
    for (let attempt = 0; ws && !ws.unavailable && !streamed && attempt < 2; attempt++) {
      let status: number | undefined;
      try {
        await ws.ask({ conversation_id: id, message: question }, (f) => {
          if (f.type === "error") status = f.status;
          answer = applyFrame(answer, f, describe);
          setStreaming({ question, answer });
        });
      } catch {
        ws.unavailable = true; // the WebSocket is refused: use the REST call from now on
        break;
      }
      // A socket opened with a token that has since expired answers 401: reconnect with a fresh one.
      if (answer.state === "error" && status === 401 && attempt === 0 && (await api.refresh())) {
        ws.close();
        answer = emptyAnswer();
        continue;
      }
      streamed = true;
    }
    if (!streamed) {
      try {
        const r = await api.request<{ message_id: string; content: string; model: string; cached: boolean; sources: Source[]; usage: Usage }>(
          "POST",
          `/conversations/${id}/chat`,
          { message: question },
        );
        answer = { text: r.content, sources: r.sources, state: "done", messageId: r.message_id, model: r.model, cached: r.cached, usage: r.usage };
      } catch (err) {
        answer = { ...answer, state: "error", error: err instanceof Error ? err.message : String(err) };
      }
    }
    if (answer.state === "error") setError(answer.error);
    if (answer.state === "done") {
      const now = new Date().toISOString();
      messages.setItems((items) => [
        ...items,
        { id: `local-${now}`, role: "user", content: question, created_at: now },
        {
          id: answer.messageId || `local-a-${now}`,
          role: "assistant",
          content: answer.text,
          sources: answer.sources,
          model: answer.model,
          cached: answer.cached,
          tokens: answer.usage?.total_tokens,
          cost: answer.usage?.cost,
          created_at: now,
        },
      ]);
    } else {
      // A failed or dropped answer: what the server stored is the truth.
      messages.reload();
    }
    setStreaming(null);
  }

  async function remove() {
    if (!confirm(tr("Delete this conversation?", "删除此对话？"))) return;
    try {
      await api.request("DELETE", `/conversations/${id}`);
      onDeleted();
    } catch (err) {
      setError(err);
    }
  }

  const kbFor = (s: Source) => s.knowledge_base_id || conv?.knowledge_base_id || null;

  return (
    <div className="conversation">
      <p className="crumbs phone-only">
        <Link to="/chat">← {tr("Conversations", "对话")}</Link>
      </p>
      <div className="title-row">
        <h2>{conv?.title || tr("Untitled", "未命名")}</h2>
        <button type="button" className="secondary danger" onClick={() => void remove()}>
          {tr("Delete", "删除")}
        </button>
      </div>
      <div className="messages" role="log" aria-live="polite">
        <MoreButton list={messages} />
        {messages.items
          .filter((m) => m.role !== "system")
          .map((m) => (
            <MessageBubble key={m.id} m={m} onCite={(source, n) => setCited({ source, n })} />
          ))}
        {streaming && (
          <>
            <div className="bubble user">{streaming.question}</div>
            <div className="bubble assistant streaming" data-testid="streaming-answer">
              <Cited text={streaming.answer.text} sources={streaming.answer.sources} onCite={(source, n) => setCited({ source, n })} />
              <span className="cursor" aria-hidden="true" />
            </div>
          </>
        )}
        <div ref={logEnd} />
      </div>
      <ErrorBox error={error} />
      <form className="composer" onSubmit={send}>
        <label className="sr" htmlFor="composer">
          {tr("Your message", "您的消息")}
        </label>
        <textarea
          id="composer"
          rows={2}
          value={draft}
          placeholder={tr("Ask a question… (Enter to send, Shift+Enter for a new line)", "输入问题…（回车发送，Shift+回车换行）")}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" disabled={!!streaming || !draft.trim()}>
          {tr("Send", "发送")}
        </button>
      </form>
      {cited && (
        <Dialog title={`[${cited.n}] ${cited.source.title}`} onClose={() => setCited(null)}>
          <p className="small muted">
            {tr("chunk", "分块")} {cited.source.chunk_index} · {tr("score", "分数")} {cited.source.score.toFixed(4)}
            {cited.source.heading && ` · ${cited.source.heading}`}
            {cited.source.page != null && ` · p.${cited.source.page}`}
          </p>
          <blockquote className="snippet">{cited.source.snippet}</blockquote>
          {kbFor(cited.source) && (
            <Link to={`/knowledge/${kbFor(cited.source)}?doc=${cited.source.document_id}&chunk=${cited.source.chunk_index}`}>
              {tr("Open the passage in its document", "在文档中查看该段落")}
            </Link>
          )}
        </Dialog>
      )}
    </div>
  );
}

function Cited({ text, sources, onCite }: { text: string; sources: Source[]; onCite: (s: Source, n: number) => void }): ReactNode {
  return (
    <>
      {splitCitations(text, sources.length).map((seg, i) =>
        seg.kind === "text" ? (
          <span key={i}>{seg.text}</span>
        ) : (
          <button key={i} type="button" className="cite" aria-label={`source ${seg.n}`} onClick={() => onCite(sources[seg.n - 1], seg.n)}>
            {seg.n}
          </button>
        ),
      )}
    </>
  );
}

function MessageBubble({ m, onCite }: { m: Message; onCite: (s: Source, n: number) => void }): ReactNode {
  const tr = useTr();
  const sources = m.sources || [];
  if (m.role === "user") return <div className="bubble user">{m.content}</div>;
  return (
    <div className={`bubble assistant${m.status === "failed" ? " failed" : ""}`} data-message={m.id}>
      <Cited text={m.content} sources={sources} onCite={onCite} />
      {sources.length > 0 && (
        <ol className="sources">
          {sources.map((s, i) => (
            <li key={i}>
              <button type="button" className="link" onClick={() => onCite(s, i + 1)}>
                [{i + 1}] {s.title}
              </button>
              <span className="small muted"> {s.score.toFixed(3)}</span>
            </li>
          ))}
        </ol>
      )}
      <div className="meta small muted">
        {m.model}
        {m.cached && ` · ${tr("cached", "缓存")}`}
        {m.tokens != null && ` · ${m.tokens} tokens`}
        {m.cost != null && ` · ${fmtCost(m.cost)}`}
      </div>
    </div>
  );
}

