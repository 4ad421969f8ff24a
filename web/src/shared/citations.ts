/** Answers cite their sources as [1], [2] …: split the text so the markers can become links. */

export type Segment = { kind: "text"; text: string } | { kind: "cite"; n: number };

export function splitCitations(text: string, sourceCount: number): Segment[] {
  const out: Segment[] = [];
  const re = /\[(\d{1,2})\]/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const n = Number(m[1]);
    if (n < 1 || n > sourceCount) continue; // not a citation of a source we have
    if (m.index > last) out.push({ kind: "text", text: text.slice(last, m.index) });
    out.push({ kind: "cite", n });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ kind: "text", text: text.slice(last) });
  return out;
}
