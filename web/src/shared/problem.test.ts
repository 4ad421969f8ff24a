import { describe, expect, it } from "vitest";
import { problemMessage } from "./problem";
import { splitCitations } from "./citations";
import { applyFrame, emptyAnswer } from "./stream";

describe("problemMessage", () => {
  it("prefers the detail", () => {
    expect(problemMessage(404, { title: "Not Found", detail: "Knowledge base not found." })).toBe("Knowledge base not found.");
  });
  it("lists validation errors with their field", () => {
    const body = { title: "Unprocessable", errors: [{ loc: ["body", "email"], msg: "not a valid email" }] };
    expect(problemMessage(422, body)).toBe("email: not a valid email");
  });
  it("falls back to the title, the gateway message, then the status", () => {
    expect(problemMessage(409, { title: "Conflict" })).toBe("Conflict");
    expect(problemMessage(403, { message: "Missing Authentication Token" })).toBe("Missing Authentication Token");
    expect(problemMessage(500, "oops")).toBe("HTTP 500");
  });
  it("says when to retry", () => {
    expect(problemMessage(429, { detail: "Too many requests.", retry_after: 2.2 })).toBe("Too many requests. (retry in 3 s)");
  });
});

describe("splitCitations", () => {
  it("turns known markers into citations and leaves the rest as text", () => {
    expect(splitCitations("Ships in 7 days [1]. See [9].", 2)).toEqual([
      { kind: "text", text: "Ships in 7 days " },
      { kind: "cite", n: 1 },
      { kind: "text", text: ". See [9]." },
    ]);
  });
});

describe("applyFrame", () => {
  const describe_ = () => "failed";
  it("concatenates deltas, then takes sources and usage", () => {
    let a = emptyAnswer();
    a = applyFrame(a, { type: "delta", text: "Hello " }, describe_);
    a = applyFrame(a, { type: "delta", text: "world [1]" }, describe_);
    a = applyFrame(a, { type: "sources", sources: [{ document_id: "d", title: "T", chunk_index: 0, score: 0.5, snippet: "s" }] }, describe_);
    a = applyFrame(a, { type: "done", message_id: "m", usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3, cost: 0 } }, describe_);
    expect(a.text).toBe("Hello world [1]");
    expect(a.sources).toHaveLength(1);
    expect(a.state).toBe("done");
    expect(a.messageId).toBe("m");
  });
  it("discards partial text on an error", () => {
    let a = applyFrame(emptyAnswer(), { type: "delta", text: "partial" }, describe_);
    a = applyFrame(a, { type: "error", status: 502, detail: "provider down" }, describe_);
    expect(a).toMatchObject({ text: "", state: "error", error: "failed" });
  });
});
