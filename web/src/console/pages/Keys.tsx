import { useState, type FormEvent, type ReactNode } from "react";
import type { Page } from "../api";
import { CopyButton, ErrorBox, fmtDate, MoreButton, useApp, usePaged, useTr } from "../ui";

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at?: string | null;
}

export function KeysPage(): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const list = usePaged<ApiKey>((cursor) => api.request<Page<ApiKey>>("GET", "/auth/api-keys", undefined, { query: { cursor } }), [api]);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<(ApiKey & { key: string }) | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const k = await api.request<ApiKey & { key: string }>("POST", "/auth/api-keys", { name });
      setCreated(k);
      setName("");
      list.setItems((items) => [k, ...items]);
    } catch (err) {
      setError(err);
    }
  }

  async function revoke(k: ApiKey) {
    if (!confirm(tr(`Revoke "${k.name}"? Clients using it stop working.`, `吊销“${k.name}”？使用它的客户端将无法访问。`))) return;
    try {
      await api.request("DELETE", `/auth/api-keys/${k.id}`);
      list.setItems((items) => items.filter((x) => x.id !== k.id));
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section>
      <h1>{tr("API keys", "API 密钥")}</h1>
      <p className="muted">{tr("For servers and scripts: send as Authorization: Bearer <key>.", "供服务器和脚本使用：以 Authorization: Bearer <key> 发送。")}</p>
      <form className="card row-form" onSubmit={create}>
        <label>
          {tr("Name", "名称")}
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit">{tr("Create key", "创建密钥")}</button>
      </form>
      {created && (
        <div className="card notice" role="status">
          <p>
            <strong>{tr("Copy this key now: it is shown only once.", "请立即复制此密钥：它只显示这一次。")}</strong>
          </p>
          <code className="secret">{created.key}</code> <CopyButton text={created.key} />
          <button type="button" className="secondary" onClick={() => setCreated(null)}>
            {tr("Done", "完成")}
          </button>
        </div>
      )}
      <ErrorBox error={error || list.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{tr("Name", "名称")}</th>
              <th>{tr("Prefix", "前缀")}</th>
              <th>{tr("Created", "创建")}</th>
              <th>{tr("Last used", "最近使用")}</th>
              <th>
                <span className="sr">{tr("Actions", "操作")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{fmtDate(k.created_at)}</td>
                <td>{fmtDate(k.last_used_at)}</td>
                <td>
                  <button type="button" className="secondary danger" onClick={() => void revoke(k)}>
                    {tr("Revoke", "吊销")}
                  </button>
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
