import { describe, expect, it } from "vitest";
import { diffLines, prettyJson } from "./diff";

describe("diffLines", () => {
  it("marks removed and added lines around the common ones", () => {
    expect(diffLines("a\nb\nc", "a\nx\nc")).toEqual([
      { op: " ", text: "a" },
      { op: "-", text: "b" },
      { op: "+", text: "x" },
      { op: " ", text: "c" },
    ]);
  });
  it("compares JSON regardless of key order", () => {
    const d = diffLines(prettyJson({ b: 1, a: 2 }), prettyJson({ a: 2, b: 3 }));
    expect(d.filter((l) => l.op !== " ").map((l) => l.op + l.text.trim())).toEqual(['-"b": 1', '+"b": 3']);
  });
});
