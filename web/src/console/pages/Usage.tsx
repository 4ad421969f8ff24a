import { useEffect, useState, type ReactNode } from "react";
import { BarChart, color, ErrorBox, fmtCost, fmtDate, useApp, useTr } from "../ui";

interface UsageRow {
  day: string;
  model: string;
  requests: number;
  cached_requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost: number;
}

interface UsageReport {
  start: string;
  end: string;
  items: UsageRow[];
  totals: Omit<UsageRow, "day" | "model">;
  quota: { tier: string; monthly_tokens: number; used_tokens: number; remaining_tokens: number; resets_at: string };
}

/** Pivot rows (day, model) into chart form: labels = days, series = models. */
export function pivot(rows: UsageRow[], pick: (r: UsageRow) => number): { labels: string[]; models: string[]; values: number[][] } {
  const labels = [...new Set(rows.map((r) => r.day))].sort();
  const models = [...new Set(rows.map((r) => r.model))].sort();
  const values = labels.map((d) => models.map((m) => rows.filter((r) => r.day === d && r.model === m).reduce((a, r) => a + pick(r), 0)));
  return { labels, models, values };
}

export function UsagePage(): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [days, setDays] = useState(30);
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const end = new Date();
    const start = new Date(end.getTime() - (days - 1) * 86400_000);
    const iso = (d: Date) => d.toISOString().slice(0, 10);
    api.request<UsageReport>("GET", "/usage", undefined, { query: { start: iso(start), end: iso(end) } }).then(setReport, setError);
  }, [api, days]);

  const tokens = report ? pivot(report.items, (r) => r.total_tokens) : null;
  const cost = report ? pivot(report.items, (r) => r.cost) : null;
  const series = (models: string[]) => models.map((m, i) => ({ name: m, color: color(i) }));

  return (
    <section>
      <div className="title-row">
        <h1>{tr("Usage", "用量")}</h1>
        <label className="inline">
          {tr("Period", "时间段")}{" "}
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={7}>7 {tr("days", "天")}</option>
            <option value={30}>30 {tr("days", "天")}</option>
            <option value={90}>90 {tr("days", "天")}</option>
          </select>
        </label>
      </div>
      <ErrorBox error={error} />
      {report && (
        <>
          <div className="stats">
            <div className="stat">
              <span>{tr("Requests", "请求")}</span>
              <strong>{report.totals.requests}</strong>
            </div>
            <div className="stat">
              <span>{tr("Tokens", "Token")}</span>
              <strong>{report.totals.total_tokens}</strong>
            </div>
            <div className="stat">
              <span>{tr("Cost", "费用")}</span>
              <strong>{fmtCost(report.totals.cost)}</strong>
            </div>
            <div className="stat">
              <span>
                {tr("Monthly quota", "月度额度")} ({report.quota.tier})
              </span>
              <strong>
                {report.quota.used_tokens} / {report.quota.monthly_tokens}
              </strong>
              <progress max={report.quota.monthly_tokens || 1} value={report.quota.used_tokens} aria-label={tr("Quota used", "已用额度")} />
              <span className="small muted">
                {tr("resets", "重置于")} {fmtDate(report.quota.resets_at)}
              </span>
            </div>
          </div>
          {tokens && <BarChart title={tr("Tokens per day and model", "每日各模型 Token")} labels={tokens.labels} series={series(tokens.models)} values={tokens.values} />}
          {cost && <BarChart title={tr("Cost per day and model (CNY)", "每日各模型费用（元）")} labels={cost.labels} series={series(cost.models)} values={cost.values} format={(v) => v.toFixed(3)} />}
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>{tr("Day", "日期")}</th>
                  <th>{tr("Model", "模型")}</th>
                  <th>{tr("Requests", "请求")}</th>
                  <th>{tr("Cached", "缓存")}</th>
                  <th>{tr("Tokens", "Token")}</th>
                  <th>{tr("Cost", "费用")}</th>
                </tr>
              </thead>
              <tbody>
                {report.items.map((r) => (
                  <tr key={`${r.day}-${r.model}`}>
                    <td>{r.day}</td>
                    <td>{r.model}</td>
                    <td>{r.requests}</td>
                    <td>{r.cached_requests}</td>
                    <td>{r.total_tokens}</td>
                    <td>{fmtCost(r.cost)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
