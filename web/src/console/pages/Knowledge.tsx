import { useCallback, useEffect, useRef, useState, type DragEvent, type FormEvent, type ReactNode } from "react";
import { ApiError, xhrSend, type Page } from "../api";
import type { Source } from "../../shared/stream";
import { Dialog, ErrorBox, fmtBytes, fmtDate, Link, MoreButton, StatusBadge, useApp, usePaged, useTr } from "../ui";

export interface KnowledgeBase {
  id: string;
  name: string;
  description?: string | null;
  document_count: number;
  created_at: string;
}

export interface DocumentRow {
  id: string;
  title: string;
  filename?: string;
  status: "pending" | "processing" | "ready" | "failed";
  error?: string | null;
  chunk_count: number;
  token_count?: number;
  file_type?: string | null;
  size?: number | null;
  created_at: string;
  updated_at: string;
  superseded_by?: string | null;
  valid_from?: string | null;
  valid_until?: string | null;
}

interface Chunk {
  chunk_index: number;
  text: string;
  token_count: number;
  heading?: string | null;
  page?: number | null;
  row?: number | null;
  sheet?: string | null;
}

/** Multipart through the API up to this size; larger files go straight to S3 (presigned). */
const MULTIPART_LIMIT = 4 * 1024 * 1024;

export function KnowledgeList(): ReactNode {
  const { api, navigate } = useApp();
  const tr = useTr();
  const list = usePaged<KnowledgeBase>((cursor) => api.request<Page<KnowledgeBase>>("GET", "/knowledge", undefined, { query: { cursor, limit: 20 } }), [api]);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const kb = await api.request<KnowledgeBase>("POST", "/knowledge", { name, description: description || undefined });
      navigate(`/knowledge/${kb.id}`);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section>
      <h1>{tr("Knowledge bases", "知识库")}</h1>
      <form className="card row-form" onSubmit={create} aria-label={tr("New knowledge base", "新建知识库")}>
        <label>
          {tr("Name", "名称")}
          <input name="kb-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          {tr("Description", "描述")}
          <input name="kb-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <button type="submit">{tr("Create knowledge base", "创建知识库")}</button>
      </form>
      <ErrorBox error={error || list.error} />
      {!list.loading && list.items.length === 0 && <p className="muted">{tr("No knowledge bases yet.", "还没有知识库。")}</p>}
      <ul className="cards">
        {list.items.map((kb) => (
          <li key={kb.id} className="card">
            <Link to={`/knowledge/${kb.id}`} className="card-title">
              {kb.name}
            </Link>
            <p className="muted">{kb.description}</p>
            <p className="small">
              {kb.document_count} {tr("documents", "个文档")} · {fmtDate(kb.created_at)}
            </p>
          </li>
        ))}
      </ul>
      <MoreButton list={list} />
    </section>
  );
}

export function KnowledgeDetail({ kbId }: { kbId: string }): ReactNode {
  const { api, navigate } = useApp();
  const tr = useTr();
  const [kb, setKb] = useState<KnowledgeBase | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tab, setTab] = useState<"documents" | "test">("documents");

  useEffect(() => {
    api.request<KnowledgeBase>("GET", `/knowledge/${kbId}`).then(setKb, setError);
  }, [api, kbId]);

  async function remove() {
    if (!kb || !confirm(tr(`Delete "${kb.name}" and all its documents?`, `删除“${kb.name}”及其全部文档？`))) return;
    try {
      await api.request("DELETE", `/knowledge/${kbId}`);
      navigate("/knowledge");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section>
      <p className="crumbs">
        <Link to="/knowledge">{tr("Knowledge bases", "知识库")}</Link> /
      </p>
      <div className="title-row">
        <h1>{kb?.name || "…"}</h1>
        <button type="button" className="danger secondary" onClick={remove} disabled={!kb}>
          {tr("Delete knowledge base", "删除知识库")}
        </button>
      </div>
      {kb?.description && <p className="muted">{kb.description}</p>}
      <ErrorBox error={error} />
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === "documents"} onClick={() => setTab("documents")}>
          {tr("Documents", "文档")}
        </button>
        <button type="button" role="tab" aria-selected={tab === "test"} onClick={() => setTab("test")}>
          {tr("Hit testing", "命中测试")}
        </button>
      </div>
      {tab === "documents" ? <Documents kbId={kbId} /> : <HitTesting kbId={kbId} />}
    </section>
  );
}

interface UploadItem {
  key: string;
  name: string;
  size: number;
  progress: number;
  error?: string;
  done?: boolean;
}

function Documents({ kbId }: { kbId: string }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const list = usePaged<DocumentRow>(
    (cursor) => api.request<Page<DocumentRow>>("GET", `/knowledge/${kbId}/documents`, undefined, { query: { cursor, limit: 20 } }),
    [api, kbId],
  );
  const [uploads, setUploads] = useState<UploadItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [chunksOf, setChunksOf] = useState<{ doc: DocumentRow; focus?: number } | null>(null);
  const [working, setWorking] = useState<Set<string>>(new Set()); // documents with a call in flight
  const mark = (id: string, on: boolean) =>
    setWorking((w) => {
      const next = new Set(w);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const [textTitle, setTextTitle] = useState("");
  const [textBody, setTextBody] = useState("");
  const fileInput = useRef<HTMLInputElement>(null);

  // A citation link lands here as ?doc=<id>&chunk=<n>: open that passage.
  useEffect(() => {
    const q = new URLSearchParams(location.search);
    const docId = q.get("doc");
    if (!docId) return;
    api.request<DocumentRow>("GET", `/knowledge/${kbId}/documents/${docId}`).then(
      (doc) => setChunksOf({ doc, focus: Number(q.get("chunk") ?? "0") }),
      setError,
    );
  }, [api, kbId]);

  // Live status: poll while anything is still pending or processing (the knowledge routes allow
  // 30 requests a minute, so every 4 s at most, slower after a 429).
  const busy = list.items.some((d) => d.status === "pending" || d.status === "processing");
  const delay = useRef(4000);
  useEffect(() => {
    if (!busy) return;
    const timer = setTimeout(() => {
      api.request<Page<DocumentRow>>("GET", `/knowledge/${kbId}/documents`, undefined, { query: { limit: 20 } }).then(
        (page) => {
          delay.current = 4000;
          const fresh = new Map(page.items.map((d) => [d.id, d]));
          list.setItems((items) => {
            const known = new Set(items.map((d) => d.id));
            const added = page.items.filter((d) => !known.has(d.id));
            return [...added, ...items.map((d) => fresh.get(d.id) || d)];
          });
        },
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 429) delay.current = Math.min(delay.current * 2, 30000);
          list.setItems((items) => [...items]); // schedule the next poll
        },
      );
    }, delay.current);
    return () => clearTimeout(timer);
  }, [api, kbId, busy, list.items]); // eslint-disable-line react-hooks/exhaustive-deps

  const upsert = useCallback(
    (doc: DocumentRow) => list.setItems((items) => [doc, ...items.filter((d) => d.id !== doc.id)]),
    [list],
  );

  async function uploadOne(file: File) {
    const key = `${file.name}-${file.size}-${Date.now()}-${Math.random()}`;
    const patch = (p: Partial<UploadItem>) => setUploads((us) => us.map((u) => (u.key === key ? { ...u, ...p } : u)));
    setUploads((us) => [...us, { key, name: file.name, size: file.size, progress: 0 }]);
    try {
      let doc: DocumentRow;
      if (file.size <= MULTIPART_LIMIT) {
        const form = new FormData();
        form.append("file", file, file.name);
        doc = await api.upload<DocumentRow>(`/knowledge/${kbId}/documents/upload`, form, (f) => patch({ progress: f }));
      } else {
        const grant = await api.request<{
          document_id: string;
          method: string;
          url: string;
          fields?: Record<string, string>;
          headers?: Record<string, string>;
        }>("POST", `/knowledge/${kbId}/documents/upload-url`, {
          filename: file.name,
          content_type: file.type || undefined,
          size: file.size,
        });
        let result: { status: number; data: unknown };
        if ((grant.method || "POST").toUpperCase() === "POST") {
          const form = new FormData();
          for (const [k, v] of Object.entries(grant.fields || {})) form.append(k, v);
          form.append("file", file, file.name);
          result = await xhrSend("POST", grant.url, form, (f) => patch({ progress: f }));
        } else {
          result = await xhrSend("PUT", grant.url, file, (f) => patch({ progress: f }), null, grant.headers || {});
        }
        if (result.status < 200 || result.status >= 300)
          throw new Error(tr(`The storage refused the upload (HTTP ${result.status}).`, `存储拒绝了上传（HTTP ${result.status}）。`));
        doc = await api.request<DocumentRow>("GET", `/knowledge/${kbId}/documents/${grant.document_id}`);
      }
      patch({ done: true, progress: 1 });
      upsert(doc);
      setTimeout(() => setUploads((us) => us.filter((u) => u.key !== key)), 1500);
    } catch (err) {
      patch({ error: err instanceof Error ? err.message : String(err) });
    }
  }

  function onFiles(files: FileList | null) {
    if (!files) return;
    for (const f of Array.from(files)) void uploadOne(f);
  }

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    onFiles(e.dataTransfer.files);
  }

  async function addText(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const doc = await api.request<DocumentRow>("POST", `/knowledge/${kbId}/documents`, { title: textTitle, content: textBody });
      upsert(doc);
      setTextTitle("");
      setTextBody("");
    } catch (err) {
      setError(err);
    }
  }

  async function reindex(doc: DocumentRow) {
    setError(null);
    mark(doc.id, true);
    try {
      const d = await api.request<DocumentRow>("POST", `/knowledge/${kbId}/documents/${doc.id}/reindex`);
      upsert(d && d.id ? d : { ...doc, status: "pending" });
    } catch (err) {
      setError(err);
    } finally {
      mark(doc.id, false);
    }
  }

  async function remove(doc: DocumentRow) {
    if (!confirm(tr(`Delete "${doc.title}"?`, `删除“${doc.title}”？`))) return;
    setError(null);
    mark(doc.id, true);
    try {
      await api.request("DELETE", `/knowledge/${kbId}/documents/${doc.id}`);
      list.setItems((items) => items.filter((d) => d.id !== doc.id));
    } catch (err) {
      setError(err);
    } finally {
      mark(doc.id, false);
    }
  }

  return (
    <div>
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>{tr("Drop files here (PDF, DOCX, XLSX, CSV, HTML, Markdown, TXT, JSON)", "将文件拖到这里（PDF、DOCX、XLSX、CSV、HTML、Markdown、TXT、JSON）")}</p>
        <button type="button" onClick={() => fileInput.current?.click()}>
          {tr("Choose files", "选择文件")}
        </button>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          aria-label={tr("Upload files", "上传文件")}
          data-testid="file-input"
          onChange={(e) => {
            onFiles(e.target.files);
            e.target.value = "";
          }}
        />
      </div>
      {uploads.length > 0 && (
        <ul className="uploads" aria-label={tr("Uploads", "上传")}>
          {uploads.map((u) => (
            <li key={u.key}>
              <span>
                {u.name} ({fmtBytes(u.size)})
              </span>
              <progress max={1} value={u.progress} aria-label={u.name} />
              {u.error && <span className="error-text">{u.error}</span>}
              {u.done && <span className="ok-text">✓</span>}
            </li>
          ))}
        </ul>
      )}
      <details className="card">
        <summary>{tr("Or paste text", "或粘贴文本")}</summary>
        <form className="stack" onSubmit={addText}>
          <label>
            {tr("Title", "标题")}
            <input required value={textTitle} onChange={(e) => setTextTitle(e.target.value)} />
          </label>
          <label>
            {tr("Content (Markdown or plain text)", "内容（Markdown 或纯文本）")}
            <textarea required rows={6} value={textBody} onChange={(e) => setTextBody(e.target.value)} />
          </label>
          <button type="submit">{tr("Add document", "添加文档")}</button>
        </form>
      </details>
      <ErrorBox error={error || list.error} />
      <div className="table-wrap">
        <table className="docs">
          <thead>
            <tr>
              <th>{tr("Title", "标题")}</th>
              <th>{tr("Status", "状态")}</th>
              <th>{tr("Chunks", "分块")}</th>
              <th>{tr("Size", "大小")}</th>
              <th>{tr("Updated", "更新")}</th>
              <th>
                <span className="sr">{tr("Actions", "操作")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((d) => (
              <tr key={d.id} data-doc={d.id} data-status={d.status} aria-busy={working.has(d.id)}>
                <td>
                  <strong>{d.title}</strong>
                  {d.file_type && <span className="muted small"> · {d.file_type}</span>}
                  {(d.superseded_by || d.valid_from || d.valid_until) && (
                    <div className="small muted">
                      {d.superseded_by && (
                        <span className="badge badge-failed">
                          {tr("superseded by", "已被替代：")} {d.superseded_by}
                        </span>
                      )}{" "}
                      {(d.valid_from || d.valid_until) && (
                        <span>
                          {tr("valid", "有效期")} {d.valid_from ? fmtDate(d.valid_from) : "…"} → {d.valid_until ? fmtDate(d.valid_until) : "…"}
                        </span>
                      )}
                    </div>
                  )}
                  {d.status === "failed" && d.error && <div className="error-text">{d.error}</div>}
                </td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.chunk_count}</td>
                <td>{fmtBytes(d.size)}</td>
                <td className="small">{fmtDate(d.updated_at)}</td>
                <td className="actions">
                  <button type="button" className="secondary" onClick={() => setChunksOf({ doc: d })} disabled={d.status !== "ready"}>
                    {tr("Chunks", "分块")}
                  </button>
                  <button type="button" className="secondary" onClick={() => void reindex(d)} disabled={working.has(d.id)}>
                    {tr("Reindex", "重建索引")}
                  </button>
                  <button type="button" className="secondary danger" onClick={() => void remove(d)} disabled={working.has(d.id)}>
                    {tr("Delete", "删除")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && <p className="muted">{tr("No documents yet.", "还没有文档。")}</p>}
      <MoreButton list={list} />
      {chunksOf && <ChunksDialog kbId={kbId} doc={chunksOf.doc} focus={chunksOf.focus} onClose={() => setChunksOf(null)} />}
    </div>
  );
}

function ChunksDialog({ kbId, doc, focus, onClose }: { kbId: string; doc: DocumentRow; focus?: number; onClose: () => void }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const list = usePaged<Chunk>(
    (cursor) => api.request<Page<Chunk>>("GET", `/knowledge/${kbId}/documents/${doc.id}/chunks`, undefined, { query: { cursor, limit: 50 } }),
    [api, kbId, doc.id],
  );
  const focused = useRef<HTMLLIElement>(null);
  useEffect(() => {
    focused.current?.scrollIntoView({ block: "center" });
  }, [list.items.length]);
  return (
    <Dialog title={`${tr("Chunks of", "分块：")} ${doc.title}`} onClose={onClose}>
      <ErrorBox error={list.error} />
      <ol className="chunks">
        {list.items.map((c) => (
          <li key={c.chunk_index} ref={c.chunk_index === focus ? focused : undefined} className={c.chunk_index === focus ? "focus" : ""}>
            <div className="small muted">
              #{c.chunk_index} · {c.token_count} tokens
              {c.heading && ` · ${c.heading}`}
              {c.page != null && ` · p.${c.page}`}
              {c.sheet && ` · ${c.sheet}`}
              {c.row != null && ` · row ${c.row}`}
            </div>
            <pre>{c.text}</pre>
          </li>
        ))}
      </ol>
      <MoreButton list={list} />
    </Dialog>
  );
}

type RankedSource = Source & {
  vector_rank?: number | null;
  keyword_rank?: number | null;
  explain?: { vector_rank?: number | null; keyword_rank?: number | null; vector_score?: number; keyword_score?: number } | null;
};

function HitTesting({ kbId }: { kbId: string }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [question, setQuestion] = useState("");
  const [topK, setTopK] = useState(5);
  const [mode, setMode] = useState<"hybrid" | "vector">("hybrid");
  const [withAnswer, setWithAnswer] = useState(false);
  const [result, setResult] = useState<{ sources: RankedSource[]; answer?: string; model?: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const explainSupported = useRef(true);

  async function run(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = { question, top_k: topK, mode, answer: withAnswer };
    try {
      type R = { sources: RankedSource[]; answer?: string; model?: string };
      let r: R;
      try {
        r = await api.request<R>("POST", `/knowledge/${kbId}/query`, explainSupported.current ? { ...body, explain: true } : body);
      } catch (err) {
        // Older APIs reject unknown fields: ask again without `explain`.
        if (!(err instanceof ApiError && err.status === 422 && explainSupported.current)) throw err;
        explainSupported.current = false;
        r = await api.request<R>("POST", `/knowledge/${kbId}/query`, body);
      }
      setResult(r);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div>
      <form className="card stack" onSubmit={run} aria-label={tr("Hit testing", "命中测试")}>
        <label>
          {tr("Question", "问题")}
          <input name="question" required value={question} onChange={(e) => setQuestion(e.target.value)} />
        </label>
        <div className="row">
          <label>
            {tr("Passages", "段落数")}
            <input type="number" min={1} max={20} value={topK} onChange={(e) => setTopK(Number(e.target.value))} />
          </label>
          <label>
            {tr("Mode", "模式")}
            <select value={mode} onChange={(e) => setMode(e.target.value as "hybrid" | "vector")}>
              <option value="hybrid">{tr("Hybrid (vector + keyword)", "混合（向量 + 关键词）")}</option>
              <option value="vector">{tr("Vector", "向量")}</option>
            </select>
          </label>
          <label className="check">
            <input type="checkbox" checked={withAnswer} onChange={(e) => setWithAnswer(e.target.checked)} />
            {tr("Generate an answer", "生成回答")}
          </label>
        </div>
        <button type="submit" disabled={busy}>
          {tr("Search", "检索")}
        </button>
      </form>
      <ErrorBox error={error} />
      {result && (
        <div className="results">
          {result.answer && (
            <div className="card answer">
              <div className="small muted">{result.model}</div>
              <p>{result.answer}</p>
            </div>
          )}
          {result.sources.length === 0 && <p className="muted">{tr("Nothing in this knowledge base matches.", "知识库中没有匹配的内容。")}</p>}
          <ol className="passages">
            {result.sources.map((s, i) => {
              const vr = s.vector_rank ?? s.explain?.vector_rank;
              const kr = s.keyword_rank ?? s.explain?.keyword_rank;
              return (
                <li key={`${s.document_id}-${s.chunk_index}`} className="card">
                  <div className="passage-head">
                    <strong>
                      #{i + 1} {s.title}
                    </strong>
                    <span className="score" title={tr("Score", "分数")}>
                      {s.score.toFixed(4)}
                    </span>
                  </div>
                  <div className="small muted">
                    {tr("chunk", "分块")} {s.chunk_index}
                    {s.heading && ` · ${s.heading}`}
                    {s.page != null && ` · p.${s.page}`}
                    {vr != null && ` · ${tr("vector rank", "向量排名")} ${vr}`}
                    {kr != null && ` · ${tr("keyword rank", "关键词排名")} ${kr}`}
                  </div>
                  <p className="snippet">{s.snippet}</p>
                </li>
              );
            })}
          </ol>
        </div>
      )}
    </div>
  );
}
