/** Problem+json (RFC 9457) errors from the API, turned into sentences a person can read. */

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: unknown;
  errors?: { loc?: unknown[]; msg?: string }[];
  retry_after?: number;
  message?: string; // API Gateway's own responses ({"message": "..."})
}

/** The readable message for an error response: detail, else title, else the HTTP status. */
export function problemMessage(status: number, body: unknown): string {
  const p = (body && typeof body === "object" ? body : {}) as Problem;
  const parts: string[] = [];
  if (typeof p.detail === "string" && p.detail.trim()) parts.push(p.detail.trim());
  else if (Array.isArray(p.detail)) {
    // FastAPI's validation list: [{loc, msg}]
    for (const item of p.detail as { loc?: unknown[]; msg?: string }[]) {
      if (item && item.msg) parts.push(fieldMessage(item.loc, item.msg));
    }
  }
  if (Array.isArray(p.errors)) {
    for (const item of p.errors) if (item && item.msg) parts.push(fieldMessage(item.loc, item.msg));
  }
  if (!parts.length && p.title) parts.push(p.title);
  if (!parts.length && p.message) parts.push(p.message);
  if (!parts.length) parts.push(status ? `HTTP ${status}` : "Network error");
  let text = unique(parts).join(" · ");
  if (typeof p.retry_after === "number" && p.retry_after > 0) text += ` (retry in ${Math.ceil(p.retry_after)} s)`;
  return text;
}

function fieldMessage(loc: unknown[] | undefined, msg: string): string {
  const path = (loc || []).filter((x) => x !== "body" && x !== "query").join(".");
  return path ? `${path}: ${msg}` : msg;
}

function unique(items: string[]): string[] {
  return items.filter((x, i) => items.indexOf(x) === i);
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public body: unknown,
  ) {
    super(problemMessage(status, body));
    this.name = "ApiError";
  }
}
