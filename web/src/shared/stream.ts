/** The frames of the WebSocket API (docs/streaming.md) folded into one answer. */

export interface Source {
  document_id: string;
  title: string;
  chunk_index: number;
  score: number;
  snippet: string;
  heading?: string | null;
  page?: number | null;
  knowledge_base_id?: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost: number;
}

export interface StreamedAnswer {
  text: string;
  sources: Source[];
  state: "streaming" | "done" | "error";
  messageId?: string;
  model?: string;
  cached?: boolean;
  usage?: Usage;
  noAnswer?: boolean;
  error?: string;
}

export type Frame =
  | { type: "delta"; text: string }
  | { type: "sources"; sources: Source[] }
  | {
      type: "done";
      message_id?: string;
      model?: string;
      cached?: boolean;
      usage?: Usage;
      no_answer?: boolean;
      content?: string;
    }
  | { type: "error"; status?: number; title?: string; detail?: unknown; retry_after?: number };

export function emptyAnswer(): StreamedAnswer {
  return { text: "", sources: [], state: "streaming" };
}

/** Apply one frame; returns a new object (React state friendly). */
export function applyFrame(a: StreamedAnswer, f: Frame, describeError: (f: Frame & { type: "error" }) => string): StreamedAnswer {
  switch (f.type) {
    case "delta":
      return { ...a, text: a.text + (f.text || "") };
    case "sources":
      return { ...a, sources: f.sources || [] };
    case "done":
      return {
        ...a,
        // The stored content wins when the server sends it (it is what the deltas add up to).
        text: typeof f.content === "string" ? f.content : a.text,
        state: "done",
        messageId: f.message_id,
        model: f.model,
        cached: f.cached,
        usage: f.usage,
        noAnswer: f.no_answer === true,
      };
    case "error":
      // Partial text from a failed answer is discarded (the server did not store it).
      return { ...a, text: "", state: "error", error: describeError(f) };
    default:
      return a;
  }
}
