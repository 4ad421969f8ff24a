import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import type { Page } from "../api";
import { diffLines, prettyJson } from "../../shared/diff";
import { ErrorBox, fmtDate, MoreButton, useApp, usePaged, useTr, type User } from "../ui";

export function UsersPage(): ReactNode {
  const { api, user: me } = useApp();
  const tr = useTr();
  const list = usePaged<User>((cursor) => api.request<Page<User>>("GET", "/users", undefined, { query: { cursor, limit: 50 } }), [api]);
  const [error, setError] = useState<unknown>(null);

  async function patch(u: User, change: Partial<Pick<User, "role" | "tier" | "is_active">>) {
    setError(null);
    // Show the change at once; the server's answer (or the old row, on an error) replaces it.
    list.setItems((items) => items.map((x) => (x.id === u.id ? { ...x, ...change } : x)));
    try {
      const updated = await api.request<User>("PATCH", `/users/${u.id}`, change);
      list.setItems((items) => items.map((x) => (x.id === u.id ? updated : x)));
    } catch (err) {
      list.setItems((items) => items.map((x) => (x.id === u.id ? u : x)));
      setError(err);
    }
  }

  return (
    <section>
      <h1>{tr("Users", "用户")}</h1>
      <ErrorBox error={error || list.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{tr("Email", "邮箱")}</th>
              <th>{tr("Name", "姓名")}</th>
              <th>{tr("Role", "角色")}</th>
              <th>{tr("Tier", "套餐")}</th>
              <th>{tr("Active", "启用")}</th>
              <th>{tr("Created", "创建")}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((u) => (
              <tr key={u.id}>
                <td>{u.email}</td>
                <td>{u.name}</td>
                <td>
                  <select aria-label={`${tr("Role", "角色")} ${u.email}`} value={u.role} disabled={u.id === me?.id} onChange={(e) => void patch(u, { role: e.target.value as User["role"] })}>
                    <option value="user">user</option>
                    <option value="admin">admin</option>
                  </select>
                </td>
                <td>
                  <select aria-label={`${tr("Tier", "套餐")} ${u.email}`} value={u.tier} onChange={(e) => void patch(u, { tier: e.target.value as User["tier"] })}>
                    <option value="free">free</option>
                    <option value="pro">pro</option>
                    <option value="enterprise">enterprise</option>
                  </select>
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`${tr("Active", "启用")} ${u.email}`}
                    checked={u.is_active}
                    disabled={u.id === me?.id}
                    onChange={(e) => void patch(u, { is_active: e.target.checked })}
                  />
                </td>
                <td className="small">{fmtDate(u.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton list={list} />
    </section>
  );
}

interface ConfigItem {
  key: string;
  value: unknown;
  description: string;
  is_sensitive: boolean;
  is_public: boolean;
  version: number;
  updated_by: string;
  updated_at: string;
  masked?: boolean;
}

interface HistoryItem {
  version: number;
  action: string;
  actor: string;
  old_value: unknown;
  new_value: unknown;
  at: string;
  rolled_back_to?: number | null;
}

export function ConfigPage(): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const list = usePaged<ConfigItem>((cursor) => api.request<Page<ConfigItem>>("GET", "/configs", undefined, { query: { cursor, limit: 100 } }), [api]);
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const current = list.items.find((c) => c.key === selected) || null;
  return (
    <section>
      <div className="title-row">
        <h1>{tr("Runtime configuration", "运行配置")}</h1>
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {tr("New key", "新建配置")}
        </button>
      </div>
      {creating && (
        <NewConfig
          onCreated={(c) => {
            list.setItems((items) => [c, ...items]);
            setSelected(c.key);
            setCreating(false);
          }}
        />
      )}
      <ErrorBox error={list.error} />
      <div className="split">
        <ul className="conv-list">
          {list.items.map((c) => (
            <li key={c.key}>
              <button type="button" className={`link${selected === c.key ? " active" : ""}`} onClick={() => setSelected(c.key)}>
                {c.key}
              </button>
              <span className="small muted">
                {" "}
                v{c.version}
                {c.is_sensitive && " · 🔒"}
                {c.is_public && ` · ${tr("public", "公开")}`}
              </span>
            </li>
          ))}
          <li>
            <MoreButton list={list} />
          </li>
        </ul>
        <div>
          {current && (
            <ConfigEditor key={`${current.key}-${current.version}`} item={current} onChanged={(c) => list.setItems((items) => items.map((x) => (x.key === c.key ? c : x)))} />
          )}
        </div>
      </div>
    </section>
  );
}

function NewConfig({ onCreated }: { onCreated: (c: ConfigItem) => void }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [key, setKey] = useState("");
  const [value, setValue] = useState("{}");
  const [description, setDescription] = useState("");
  const [sensitive, setSensitive] = useState(false);
  const [isPublic, setPublic] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const parsed: unknown = JSON.parse(value);
      onCreated(await api.request<ConfigItem>("POST", "/configs", { key, value: parsed, description, is_sensitive: sensitive, is_public: isPublic }));
    } catch (err) {
      setError(err instanceof SyntaxError ? tr("The value is not valid JSON.", "值不是合法的 JSON。") : err);
    }
  }
  return (
    <form className="card stack" onSubmit={submit}>
      <label>
        {tr("Key", "键")}
        <input required value={key} onChange={(e) => setKey(e.target.value)} />
      </label>
      <label>
        {tr("Value (JSON)", "值（JSON）")}
        <textarea className="mono" rows={4} value={value} onChange={(e) => setValue(e.target.value)} />
      </label>
      <label>
        {tr("Description", "描述")}
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label className="check">
        <input type="checkbox" checked={sensitive} onChange={(e) => setSensitive(e.target.checked)} />
        {tr("Sensitive (encrypted, masked)", "敏感（加密存储，显示为掩码）")}
      </label>
      <label className="check">
        <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} />
        {tr("Public (readable without signing in)", "公开（无需登录可读）")}
      </label>
      <ErrorBox error={error} />
      <button type="submit">{tr("Create", "创建")}</button>
    </form>
  );
}

function ConfigEditor({ item, onChanged }: { item: ConfigItem; onChanged: (c: ConfigItem) => void }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [text, setText] = useState(prettyJson(item.value));
  const [error, setError] = useState<unknown>(null);
  const history = usePaged<HistoryItem>(
    (cursor) => api.request<Page<HistoryItem>>("GET", `/configs/${encodeURIComponent(item.key)}/history`, undefined, { query: { cursor, limit: 50 } }),
    [api, item.key, item.version],
  );
  const [a, setA] = useState<number | null>(null);
  const [b, setB] = useState<number | null>(null);
  useEffect(() => {
    if (history.items.length >= 2 && a == null && b == null) {
      setA(history.items[1].version);
      setB(history.items[0].version);
    }
  }, [history.items, a, b]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const value: unknown = JSON.parse(text);
      onChanged(await api.request<ConfigItem>("PUT", `/configs/${encodeURIComponent(item.key)}`, { value, version: item.version }));
    } catch (err) {
      setError(err instanceof SyntaxError ? tr("The value is not valid JSON.", "值不是合法的 JSON。") : err);
    }
  }

  async function rollback(version: number) {
    if (!confirm(tr(`Restore "${item.key}" as it was at version ${version}?`, `将“${item.key}”恢复到版本 ${version}？`))) return;
    setError(null);
    try {
      onChanged(await api.request<ConfigItem>("POST", `/configs/${encodeURIComponent(item.key)}/rollback`, { version, expected_version: item.version }));
    } catch (err) {
      setError(err);
    }
  }

  const valueAt = (v: number | null) => history.items.find((h) => h.version === v)?.new_value;
  const diff = a != null && b != null ? diffLines(prettyJson(valueAt(a)), prettyJson(valueAt(b))) : [];

  return (
    <div className="stack">
      <form className="card stack" onSubmit={save}>
        <h2>{item.key}</h2>
        <p className="small muted">
          {item.description} · v{item.version} · {fmtDate(item.updated_at)}
        </p>
        <label>
          {tr("Value (JSON)", "值（JSON）")}
          <textarea className="mono" rows={8} value={text} onChange={(e) => setText(e.target.value)} readOnly={item.masked} />
        </label>
        {item.masked && <p className="small muted">{tr("Sensitive value: masked.", "敏感值：已掩码。")}</p>}
        <ErrorBox error={error} />
        <button type="submit" disabled={item.masked}>
          {tr("Save", "保存")}
        </button>
      </form>
      <div className="card">
        <h3>{tr("History", "历史")}</h3>
        <ErrorBox error={history.error} />
        <table>
          <thead>
            <tr>
              <th>v</th>
              <th>{tr("Action", "操作")}</th>
              <th>{tr("Actor", "操作人")}</th>
              <th>{tr("When", "时间")}</th>
              <th>{tr("Compare", "比较")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {history.items.map((h) => (
              <tr key={h.version}>
                <td>{h.version}</td>
                <td>
                  {h.action}
                  {h.rolled_back_to != null && ` → v${h.rolled_back_to}`}
                </td>
                <td className="small">{h.actor.slice(0, 8)}</td>
                <td className="small">{fmtDate(h.at)}</td>
                <td>
                  <label className="check small">
                    <input type="radio" name="diff-a" checked={a === h.version} onChange={() => setA(h.version)} />
                    {tr("from", "从")}
                  </label>
                  <label className="check small">
                    <input type="radio" name="diff-b" checked={b === h.version} onChange={() => setB(h.version)} />
                    {tr("to", "到")}
                  </label>
                </td>
                <td>
                  {h.version !== item.version && h.action !== "delete" && (
                    <button type="button" className="secondary" onClick={() => void rollback(h.version)}>
                      {tr("Roll back to this", "回滚到此版本")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <MoreButton list={history} />
        {diff.length > 0 && (
          <>
            <h3>
              {tr("Diff", "差异")} v{a} → v{b}
            </h3>
            <pre className="diff" aria-label={tr("Diff", "差异")}>
              {diff.map((l, i) => (
                <div key={i} className={l.op === "+" ? "add" : l.op === "-" ? "del" : ""}>
                  {l.op} {l.text}
                </div>
              ))}
            </pre>
          </>
        )}
      </div>
    </div>
  );
}

interface AuditItem {
  id: number;
  at: string;
  actor: string;
  action: string;
  key: string | null;
  version: number | null;
  detail: Record<string, unknown>;
  request_id: string | null;
}

export function AuditPage(): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [key, setKey] = useState("");
  const [action, setAction] = useState("");
  const [applied, setApplied] = useState({ key: "", action: "" });
  const list = usePaged<AuditItem>(
    (cursor) => api.request<Page<AuditItem>>("GET", "/configs/audit/log", undefined, { query: { cursor, limit: 50, key: applied.key, action: applied.action } }),
    [api, applied],
  );
  return (
    <section>
      <h1>{tr("Audit log", "审计日志")}</h1>
      <form
        className="card row-form"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ key, action });
        }}
      >
        <label>
          {tr("Key", "键")}
          <input value={key} onChange={(e) => setKey(e.target.value)} />
        </label>
        <label>
          {tr("Action", "操作")}
          <select value={action} onChange={(e) => setAction(e.target.value)}>
            <option value="">{tr("any", "全部")}</option>
            {["create", "update", "delete", "rollback", "import", "export", "reveal", "reload"].map((x) => (
              <option key={x} value={x}>
                {x}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">{tr("Filter", "筛选")}</button>
      </form>
      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{tr("When", "时间")}</th>
              <th>{tr("Actor", "操作人")}</th>
              <th>{tr("Action", "操作")}</th>
              <th>{tr("Key", "键")}</th>
              <th>v</th>
              <th>{tr("Detail", "详情")}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((x) => (
              <tr key={x.id}>
                <td className="small">{fmtDate(x.at)}</td>
                <td className="small">{x.actor.slice(0, 8)}</td>
                <td>{x.action}</td>
                <td>{x.key}</td>
                <td>{x.version}</td>
                <td>
                  <code className="small">{JSON.stringify(x.detail)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton list={list} />
    </section>
  );
}
