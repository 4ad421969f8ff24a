import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, type Page } from "../api";
import type { Source } from "../../shared/stream";
import { BarChart, CopyButton, ErrorBox, fmtCost, fmtDate, Link, MoreButton, useApp, usePaged, useTr } from "../ui";
import type { KnowledgeBase } from "./Knowledge";

/** An assistant as SPEC §6 describes it. */
export interface Assistant {
  id: string;
  public_id: string;
  name: string;
  knowledge_base_ids: string[];
  system_prompt?: string | null;
  model?: string | null;
  welcome_message?: string | null;
  suggested_questions?: string[] | null;
  no_answer_message?: string | null;
  allowed_origins?: string[] | null;
  visitor_rate_limit_per_minute?: number | null;
  monthly_token_budget?: number | null;
  is_active?: boolean;
  embed_snippet?: string | null;
  created_at?: string;
}

interface VisitorConversation {
  id: string;
  created_at: string;
  updated_at?: string;
  message_count?: number;
  origin?: string | null;
  no_answer_count?: number;
  feedback_up?: number;
  feedback_down?: number;
  first_question?: string | null;
  title?: string | null;
}

interface VisitorMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  created_at: string;
  sources?: Source[] | null;
  no_answer?: boolean;
  feedback?: { rating: "up" | "down"; comment?: string | null } | "up" | "down" | null;
  tokens?: number;
  cost?: number;
}

interface StatsDay {
  day: string;
  conversations: number;
  questions: number;
  no_answer?: number;
  no_answer_rate?: number;
  feedback_up?: number;
  feedback_down?: number;
  tokens?: number;
  total_tokens?: number;
  cost?: number;
}

function NotYet({ error }: { error: unknown }): ReactNode {
  const tr = useTr();
  if (error instanceof ApiError && error.status === 403 && (error.body as { title?: string } | null)?.title === "MISSING_AUTHENTICATION_TOKEN")
    return <p className="notice card">{tr("Assistants are not available on this deployment yet.", "此部署尚未提供助手功能。")}</p>;
  return <ErrorBox error={error} />;
}

export function AssistantsList(): ReactNode {
  const { api, navigate } = useApp();
  const tr = useTr();
  const list = usePaged<Assistant>((cursor) => api.request<Page<Assistant>>("GET", "/assistants", undefined, { query: { cursor, limit: 20 } }), [api]);
  const [creating, setCreating] = useState(false);
  return (
    <section>
      <div className="title-row">
        <h1>{tr("Assistants", "助手")}</h1>
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {tr("New assistant", "新建助手")}
        </button>
      </div>
      <p className="muted">
        {tr("Put an assistant on your website: it answers your visitors from your knowledge bases.", "把助手放到您的网站上：它用您的知识库回答访客。")}
      </p>
      {creating && <AssistantForm onSaved={(a) => navigate(`/assistants/${a.id}`)} />}
      <NotYet error={list.error} />
      <ul className="cards">
        {list.items.map((a) => (
          <li key={a.id} className="card">
            <Link to={`/assistants/${a.id}`} className="card-title">
              {a.name}
            </Link>
            <p className="small muted">
              <code>{a.public_id}</code> · {a.is_active === false ? tr("inactive", "已停用") : tr("active", "启用中")}
            </p>
          </li>
        ))}
      </ul>
      <MoreButton list={list} />
    </section>
  );
}

const lines = (s: string) =>
  s
    .split("\n")
    .map((x) => x.trim())
    .filter(Boolean);

function AssistantForm({ assistant, onSaved }: { assistant?: Assistant; onSaved: (a: Assistant) => void }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const kbs = usePaged<KnowledgeBase>((cursor) => api.request<Page<KnowledgeBase>>("GET", "/knowledge", undefined, { query: { cursor, limit: 100 } }), [api]);
  const a = assistant;
  const [name, setName] = useState(a?.name || "");
  const [kbIds, setKbIds] = useState<string[]>(a?.knowledge_base_ids || []);
  const [systemPrompt, setSystemPrompt] = useState(a?.system_prompt || "");
  const [model, setModel] = useState(a?.model || "");
  const [welcome, setWelcome] = useState(a?.welcome_message || "");
  const [suggested, setSuggested] = useState((a?.suggested_questions || []).join("\n"));
  const [noAnswer, setNoAnswer] = useState(a?.no_answer_message || "");
  const [origins, setOrigins] = useState((a?.allowed_origins || []).join("\n"));
  const [rate, setRate] = useState(a?.visitor_rate_limit_per_minute ?? 10);
  const [budget, setBudget] = useState(a?.monthly_token_budget ?? 1000000);
  const [active, setActive] = useState(a?.is_active ?? true);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaved(false);
    const body = {
      name,
      knowledge_base_ids: kbIds,
      system_prompt: systemPrompt || null,
      model: model || null,
      welcome_message: welcome || null,
      suggested_questions: lines(suggested),
      no_answer_message: noAnswer || null,
      allowed_origins: lines(origins),
      visitor_rate_limit_per_minute: rate,
      monthly_token_budget: budget,
      is_active: active,
    };
    try {
      let result: Assistant;
      if (!a) result = await api.request<Assistant>("POST", "/assistants", body);
      else {
        try {
          result = await api.request<Assistant>("PATCH", `/assistants/${a.id}`, body);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 405)) throw err;
          result = await api.request<Assistant>("PUT", `/assistants/${a.id}`, body);
        }
      }
      setSaved(true);
      onSaved(result);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form className="card stack" onSubmit={submit} aria-label={tr("Assistant settings", "助手设置")}>
      <label>
        {tr("Name", "名称")}
        <input name="assistant-name" required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <fieldset>
        <legend>{tr("Knowledge bases", "知识库")}</legend>
        {kbs.items.map((kb) => (
          <label key={kb.id} className="check">
            <input
              type="checkbox"
              checked={kbIds.includes(kb.id)}
              onChange={(e) => setKbIds(e.target.checked ? [...kbIds, kb.id] : kbIds.filter((x) => x !== kb.id))}
            />
            {kb.name}
          </label>
        ))}
        {!kbs.loading && kbs.items.length === 0 && <p className="muted small">{tr("Create a knowledge base first.", "请先创建知识库。")}</p>}
      </fieldset>
      <label>
        {tr("System prompt", "系统提示词")}
        <textarea rows={3} value={systemPrompt} onChange={(e) => setSystemPrompt(e.target.value)} />
      </label>
      <div className="row">
        <label>
          {tr("Model", "模型")}
          <input value={model} placeholder="glm-4-flash" onChange={(e) => setModel(e.target.value)} />
        </label>
        <label>
          {tr("Visitor rate limit (per minute)", "访客限流（每分钟）")}
          <input type="number" min={1} value={rate} onChange={(e) => setRate(Number(e.target.value))} />
        </label>
        <label>
          {tr("Monthly token budget", "每月 Token 预算")}
          <input type="number" min={0} value={budget} onChange={(e) => setBudget(Number(e.target.value))} />
        </label>
      </div>
      <label>
        {tr("Welcome message", "欢迎语")}
        <input name="assistant-welcome" value={welcome} onChange={(e) => setWelcome(e.target.value)} />
      </label>
      <label>
        {tr("Suggested questions (one per line)", "推荐问题（每行一个）")}
        <textarea name="assistant-suggested" rows={3} value={suggested} onChange={(e) => setSuggested(e.target.value)} />
      </label>
      <label>
        {tr("No-answer message", "无答案回复")}
        <input value={noAnswer} onChange={(e) => setNoAnswer(e.target.value)} />
      </label>
      <label>
        {tr("Allowed origins (one per line, e.g. https://www.example.com)", "允许的来源（每行一个，如 https://www.example.com）")}
        <textarea name="assistant-origins" rows={2} value={origins} onChange={(e) => setOrigins(e.target.value)} />
      </label>
      <label className="check">
        <input type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} />
        {tr("Active", "启用")}
      </label>
      <ErrorBox error={error} />
      {saved && <p className="ok-text">{tr("Saved.", "已保存。")}</p>}
      <button type="submit">{a ? tr("Save", "保存") : tr("Create assistant", "创建助手")}</button>
    </form>
  );
}

export function snippetFor(a: Assistant, widgetUrl: string, apiBase: string): string {
  if (a.embed_snippet) return a.embed_snippet;
  const api = new URL(apiBase, location.href).toString().replace(/\/+$/, "");
  return `<script src="${widgetUrl}" data-assistant="${a.public_id}" data-api="${api}" async></script>`;
}

export function AssistantDetail({ assistantId }: { assistantId: string }): ReactNode {
  const { api, config } = useApp();
  const tr = useTr();
  const [a, setA] = useState<Assistant | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tab, setTab] = useState<"settings" | "embed" | "conversations" | "stats">("settings");

  useEffect(() => {
    api.request<Assistant>("GET", `/assistants/${assistantId}`).then(setA, setError);
  }, [api, assistantId]);

  const tabs = [
    ["settings", tr("Settings", "设置")],
    ["embed", tr("Embed & preview", "嵌入与预览")],
    ["conversations", tr("Visitor conversations", "访客对话")],
    ["stats", tr("Stats", "统计")],
  ] as const;

  return (
    <section>
      <p className="crumbs">
        <Link to="/assistants">{tr("Assistants", "助手")}</Link> /
      </p>
      <h1>{a?.name || "…"}</h1>
      <NotYet error={error} />
      {a && (
        <>
          <div className="tabs" role="tablist">
            {tabs.map(([key, label]) => (
              <button key={key} type="button" role="tab" aria-selected={tab === key} onClick={() => setTab(key)}>
                {label}
              </button>
            ))}
          </div>
          {tab === "settings" && <AssistantForm assistant={a} onSaved={setA} />}
          {tab === "embed" && <Embed a={a} snippet={snippetFor(a, config.widgetUrl, config.apiBase)} />}
          {tab === "conversations" && <VisitorConversations a={a} />}
          {tab === "stats" && <Stats a={a} />}
        </>
      )}
    </section>
  );
}

function Embed({ a, snippet }: { a: Assistant; snippet: string }): ReactNode {
  const { config } = useApp();
  const tr = useTr();
  const host = useRef<HTMLDivElement>(null);
  const [preview, setPreview] = useState(false);

  useEffect(() => {
    if (!preview || !host.current) return;
    const mount = () => {
      const w = document.createElement("claw-widget");
      w.setAttribute("assistant", a.public_id);
      w.setAttribute("api", new URL(config.apiBase, location.href).toString());
      if (config.wsUrl) w.setAttribute("ws", config.wsUrl);
      w.setAttribute("data-inline", "");
      w.setAttribute("open", "");
      host.current?.replaceChildren(w);
    };
    if (customElements.get("claw-widget")) mount();
    else {
      // The same widget.js the customer's site loads: no second copy of the widget in the console.
      const s = document.createElement("script");
      s.src = config.widgetUrl;
      s.onload = mount;
      document.head.append(s);
    }
    const node = host.current;
    return () => node?.replaceChildren();
  }, [preview, a.public_id, config]);

  return (
    <div>
      <div className="card">
        <h2>{tr("Embed snippet", "嵌入代码")}</h2>
        <p className="muted">
          {tr("Paste this before </body> on your site. Add the site's origin to the allowed origins.", "把它粘贴到您网站的 </body> 之前，并把网站的来源加入允许的来源。")}
        </p>
        <pre className="code" data-testid="embed-snippet">
          {snippet}
        </pre>
        <CopyButton text={snippet} label={tr("Copy snippet", "复制代码")} />
      </div>
      <div className="card">
        <h2>{tr("Live preview", "实时预览")}</h2>
        <button type="button" onClick={() => setPreview(!preview)} aria-pressed={preview}>
          {preview ? tr("Close preview", "关闭预览") : tr("Open preview", "打开预览")}
        </button>
        <div ref={host} className="preview-host" />
      </div>
    </div>
  );
}

function ratingOf(m: VisitorMessage): "up" | "down" | null {
  if (!m.feedback) return null;
  return typeof m.feedback === "string" ? m.feedback : m.feedback.rating;
}

function VisitorConversations({ a }: { a: Assistant }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [filter, setFilter] = useState<"" | "no_answer" | "down">("");
  const list = usePaged<VisitorConversation>(
    (cursor) =>
      api.request<Page<VisitorConversation>>("GET", `/assistants/${a.id}/conversations`, undefined, {
        query: { cursor, limit: 20, no_answer: filter === "no_answer" ? true : undefined, feedback: filter === "down" ? "down" : undefined },
      }),
    [api, a.id, filter],
  );
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="split">
      <div>
        <label className="inline">
          {tr("Show", "显示")}{" "}
          <select value={filter} onChange={(e) => setFilter(e.target.value as "" | "no_answer" | "down")}>
            <option value="">{tr("All conversations", "全部对话")}</option>
            <option value="no_answer">{tr("With unanswered questions", "有未回答的问题")}</option>
            <option value="down">{tr("With thumbs down", "有差评")}</option>
          </select>
        </label>
        <ErrorBox error={list.error} />
        <ul className="conv-list">
          {list.items.map((c) => (
            <li key={c.id}>
              <button type="button" className={`link${open === c.id ? " active" : ""}`} onClick={() => setOpen(c.id)}>
                {c.first_question || c.title || c.id.slice(0, 8)}
              </button>
              <div className="small muted">
                {fmtDate(c.updated_at || c.created_at)}
                {c.message_count != null && ` · ${c.message_count} ${tr("messages", "条消息")}`}
                {!!c.feedback_up && ` · ${tr("helpful", "有帮助")} ${c.feedback_up}`}
                {!!c.feedback_down && ` · ${tr("not helpful", "没帮助")} ${c.feedback_down}`}
                {!!c.no_answer_count && ` · ${tr("no answer", "未回答")} ${c.no_answer_count}`}
                {c.origin && ` · ${c.origin}`}
              </div>
            </li>
          ))}
        </ul>
        {!list.loading && list.items.length === 0 && <p className="muted">{tr("No visitor conversations yet.", "还没有访客对话。")}</p>}
        <MoreButton list={list} />
      </div>
      <div>{open && <VisitorMessages key={open} a={a} conversationId={open} />}</div>
    </div>
  );
}

function VisitorMessages({ a, conversationId }: { a: Assistant; conversationId: string }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const list = usePaged<VisitorMessage>(
    (cursor) =>
      api.request<Page<VisitorMessage>>("GET", `/assistants/${a.id}/conversations/${conversationId}/messages`, undefined, { query: { cursor, limit: 100 } }),
    [api, a.id, conversationId],
  );
  return (
    <div className="messages visitor" aria-label={tr("Messages", "消息")}>
      <ErrorBox error={list.error} />
      {list.items.map((m) => {
        const rating = ratingOf(m);
        return (
          <div key={m.id} className={`bubble ${m.role}${m.no_answer ? " noanswer" : ""}`} data-message={m.id}>
            {m.content}
            {m.sources && m.sources.length > 0 && (
              <ol className="sources">
                {m.sources.map((s, i) => (
                  <li key={i}>
                    <details>
                      <summary>
                        [{i + 1}] {s.title} <span className="small muted">{s.score.toFixed(3)}</span>
                      </summary>
                      <blockquote className="snippet">{s.snippet}</blockquote>
                    </details>
                  </li>
                ))}
              </ol>
            )}
            <div className="meta small muted">
              {fmtDate(m.created_at)}
              {m.no_answer && ` · ${tr("no answer", "未回答")}`}
              {rating && (
                <span data-feedback={rating} className={`badge badge-${rating === "up" ? "ready" : "failed"}`}>
                  {rating === "up" ? tr("helpful", "有帮助") : tr("not helpful", "没帮助")}
                </span>
              )}
              {typeof m.feedback === "object" && m.feedback?.comment && ` · “${m.feedback.comment}”`}
              {m.tokens != null && ` · ${m.tokens} tokens`}
              {m.cost != null && ` · ${fmtCost(m.cost)}`}
            </div>
          </div>
        );
      })}
      <MoreButton list={list} />
    </div>
  );
}

function Stats({ a }: { a: Assistant }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [days, setDays] = useState(30);
  const [rows, setRows] = useState<StatsDay[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.request<{ items?: StatsDay[]; days?: StatsDay[] } | StatsDay[]>("GET", `/assistants/${a.id}/stats`, undefined, { query: { days } }).then(
      (r) => setRows(Array.isArray(r) ? r : r.items || r.days || []),
      setError,
    );
  }, [api, a.id, days]);
  const labels = (rows || []).map((r) => r.day);
  const one = (name: string, c: string, pick: (r: StatsDay) => number) => ({
    series: [{ name, color: c }],
    values: (rows || []).map((r) => [pick(r)]),
  });
  const rate = (r: StatsDay) => r.no_answer_rate ?? (r.questions ? (r.no_answer || 0) / r.questions : 0);
  return (
    <div>
      <label className="inline">
        {tr("Period", "时间段")}{" "}
        <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
          <option value={7}>7 {tr("days", "天")}</option>
          <option value={30}>30 {tr("days", "天")}</option>
          <option value={90}>90 {tr("days", "天")}</option>
        </select>
      </label>
      <ErrorBox error={error} />
      {rows && (
        <div className="charts">
          <BarChart title={tr("Questions per day", "每日提问")} labels={labels} {...one(tr("questions", "提问"), "#4f46e5", (r) => r.questions)} />
          <BarChart title={tr("Conversations per day", "每日对话")} labels={labels} {...one(tr("conversations", "对话"), "#0ea5e9", (r) => r.conversations)} />
          <BarChart
            title={tr("No-answer rate", "未回答率")}
            labels={labels}
            {...one(tr("no-answer rate", "未回答率"), "#f59e0b", rate)}
            format={(v) => `${Math.round(v * 100)}%`}
          />
          <BarChart
            title={tr("Feedback", "反馈")}
            labels={labels}
            series={[
              { name: tr("helpful", "有帮助"), color: "#10b981" },
              { name: tr("not helpful", "没帮助"), color: "#ef4444" },
            ]}
            values={rows.map((r) => [r.feedback_up || 0, r.feedback_down || 0])}
          />
          <BarChart title={tr("Tokens per day", "每日 Token")} labels={labels} {...one("tokens", "#8b5cf6", (r) => r.tokens ?? r.total_tokens ?? 0)} />
          <BarChart title={tr("Cost per day (CNY)", "每日费用（元）")} labels={labels} {...one(tr("cost", "费用"), "#64748b", (r) => r.cost || 0)} format={(v) => v.toFixed(3)} />
        </div>
      )}
    </div>
  );
}
