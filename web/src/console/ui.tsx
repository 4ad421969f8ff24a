/** Small building blocks shared by the console's screens. */
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import type { Api, Page } from "./api";
import type { RuntimeConfig } from "./config";

// ------------------------------------------------------------------ language
export type Lang = "en" | "zh";

export function initialLang(): Lang {
  const saved = localStorage.getItem("claw-console-lang");
  if (saved === "en" || saved === "zh") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export interface User {
  id: string;
  email: string;
  name?: string | null;
  role: "user" | "admin";
  tier: "free" | "pro" | "enterprise";
  is_active: boolean;
  created_at: string;
}

export interface AppContext {
  api: Api;
  config: RuntimeConfig;
  lang: Lang;
  setLang: (l: Lang) => void;
  user: User | null;
  navigate: (path: string) => void;
  path: string;
}

export const Ctx = createContext<AppContext>(null as unknown as AppContext);
export const useApp = (): AppContext => useContext(Ctx);

/** `tr("Knowledge bases", "知识库")`: the UI text in the chosen language. */
export function useTr(): (en: string, zh: string) => string {
  const { lang } = useApp();
  return useCallback((en: string, zh: string) => (lang === "zh" ? zh : en), [lang]);
}

// ------------------------------------------------------------------ routing
export function Link(props: { to: string; children: ReactNode; className?: string }): ReactNode {
  const { navigate, path } = useApp();
  const active = path === props.to || (props.to !== "/" && path.startsWith(props.to + "/"));
  return (
    <a
      href={props.to}
      className={props.className}
      aria-current={active ? "page" : undefined}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

// ------------------------------------------------------------------ errors and status
export function ErrorBox({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  const text = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      {text}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }): ReactNode {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

// ------------------------------------------------------------------ paginated lists
export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  more: () => void;
  reload: () => void;
  setItems: (f: (items: T[]) => T[]) => void;
}

/** A cursor-paginated list (`items`, `next_cursor`): first page on load, more on demand. */
export function usePaged<T>(load: (cursor: string | null) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  const [items, setItemsState] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);
  const fetchPage = useCallback(
    (from: string | null, append: boolean) => {
      const gen = ++generation.current;
      setLoading(true);
      load(from).then(
        (page) => {
          if (gen !== generation.current) return;
          setItemsState((old) => (append ? [...old, ...page.items] : page.items));
          setCursor(page.next_cursor ?? null);
          setError(null);
          setLoading(false);
        },
        (err: unknown) => {
          if (gen !== generation.current) return;
          setError(err);
          setLoading(false);
        },
      );
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    deps,
  );
  useEffect(() => fetchPage(null, false), [fetchPage]);
  return {
    items,
    loading,
    error,
    hasMore: !!cursor,
    more: () => cursor && fetchPage(cursor, true),
    reload: () => fetchPage(null, false),
    setItems: (f) => setItemsState(f),
  };
}

export function MoreButton<T>({ list }: { list: Paged<T> }): ReactNode {
  const tr = useTr();
  if (!list.hasMore) return null;
  return (
    <button type="button" className="secondary more" onClick={list.more} disabled={list.loading}>
      {tr("Load more", "加载更多")}
    </button>
  );
}

// ------------------------------------------------------------------ formatting
export function fmtDate(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
}

export function fmtCost(v: number | null | undefined): string {
  return `¥${(v ?? 0).toFixed(4)}`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n == null) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function CopyButton({ text, label }: { text: string; label?: string }): ReactNode {
  const tr = useTr();
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="secondary"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setDone(true), () => setDone(false));
        setTimeout(() => setDone(false), 2000);
      }}
    >
      {done ? tr("Copied", "已复制") : label || tr("Copy", "复制")}
    </button>
  );
}

// ------------------------------------------------------------------ charts (hand-rolled SVG)
export interface Series {
  name: string;
  color: string;
}

const PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b"];
export const color = (i: number): string => PALETTE[i % PALETTE.length];

/** Stacked bars: one bar per label, one segment per series. */
export function BarChart(props: {
  title: string;
  labels: string[];
  series: Series[];
  values: number[][]; // values[label][series]
  format?: (v: number) => string;
}): ReactNode {
  const { labels, series, values } = props;
  const fmt = props.format || ((v: number) => String(Math.round(v * 100) / 100));
  const W = 640;
  const H = 200;
  const pad = { l: 64, r: 8, t: 12, b: 34 };
  const totals = values.map((row) => row.reduce((a, b) => a + b, 0));
  const max = Math.max(1e-9, ...totals);
  const bw = (W - pad.l - pad.r) / Math.max(1, labels.length);
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const step = Math.max(1, Math.ceil(labels.length / 8));
  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      {labels.length === 0 ? (
        <p className="muted">—</p>
      ) : (
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
          {[0, 0.5, 1].map((f) => (
            <g key={f}>
              <line x1={pad.l} x2={W - pad.r} y1={y(max * f)} y2={y(max * f)} stroke="#e5e7eb" />
              <text x={pad.l - 4} y={y(max * f) + 4} textAnchor="end" fontSize="15" fill="#6b7280">
                {fmt(max * f)}
              </text>
            </g>
          ))}
          {labels.map((label, i) => {
            let acc = 0;
            return (
              <g key={label}>
                {series.map((s, j) => {
                  const v = values[i]?.[j] || 0;
                  const top = y(acc + v);
                  const h = y(acc) - top;
                  acc += v;
                  return v > 0 ? (
                    <rect key={s.name} x={pad.l + i * bw + bw * 0.15} width={bw * 0.7} y={top} height={h} fill={s.color}>
                      <title>{`${label} · ${s.name}: ${fmt(v)}`}</title>
                    </rect>
                  ) : null;
                })}
                {i % step === 0 && (
                  <text x={pad.l + i * bw + bw / 2} y={H - 12} textAnchor="middle" fontSize="15" fill="#6b7280">
                    {label.slice(5)}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      )}
      {series.length > 1 && (
        <ul className="legend">
          {series.map((s) => (
            <li key={s.name}>
              <span style={{ background: s.color }} />
              {s.name}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}

// ------------------------------------------------------------------ a dialog
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode }): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" onClose={props.onClose} aria-label={props.title}>
      <header>
        <h2>{props.title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={() => ref.current?.close()}>
          ×
        </button>
      </header>
      <div className="dialog-body">{props.children}</div>
    </dialog>
  );
}
