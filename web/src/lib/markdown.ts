// A small Markdown subset parsed into a tree React renders as elements: raw HTML from the model
// is never interpreted (it stays text), and links keep only http(s) and mailto targets.

export type Inline =
  | { t: "text"; v: string }
  | { t: "code"; v: string }
  | { t: "strong"; c: Inline[] }
  | { t: "em"; c: Inline[] }
  | { t: "link"; href: string; c: Inline[] };

export type Block =
  | { t: "p"; c: Inline[] }
  | { t: "h"; level: number; c: Inline[] }
  | { t: "pre"; lang: string; v: string }
  | { t: "ul"; items: Inline[][] }
  | { t: "ol"; items: Inline[][] }
  | { t: "quote"; c: Inline[] };

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

export function safeHref(href: string): string | null {
  return SAFE_URL.test(href.trim()) ? href.trim() : null;
}

export function inline(src: string): Inline[] {
  const out: Inline[] = [];
  let text = "";
  const flush = () => {
    if (text) out.push({ t: "text", v: text });
    text = "";
  };
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^`([^`]+)`/.exec(rest))) {
      flush();
      out.push({ t: "code", v: m[1] });
    } else if ((m = /^\*\*(.+?)\*\*/.exec(rest)) || (m = /^__(.+?)__/.exec(rest))) {
      flush();
      out.push({ t: "strong", c: inline(m[1]) });
    } else if ((m = /^\*([^*\s][^*]*?)\*/.exec(rest)) || (m = /^_([^_\s][^_]*?)_(?![A-Za-z0-9])/.exec(rest))) {
      flush();
      out.push({ t: "em", c: inline(m[1]) });
    } else if ((m = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(rest))) {
      const href = safeHref(m[2]);
      flush();
      if (href) out.push({ t: "link", href, c: inline(m[1]) });
      else out.push({ t: "text", v: m[1] });
    } else {
      text += src[i];
      i += 1;
      continue;
    }
    i += m[0].length;
  }
  flush();
  return out;
}

export function parse(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let para: string[] = [];
  const endPara = () => {
    if (para.length) blocks.push({ t: "p", c: inline(para.join("\n")) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m: RegExpExecArray | null;
    if ((m = /^```\s*([\w-]*)\s*$/.exec(line))) {
      endPara();
      const body: string[] = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
      blocks.push({ t: "pre", lang: m[1], v: body.join("\n") });
    } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      endPara();
      blocks.push({ t: "h", level: m[1].length, c: inline(m[2]) });
    } else if (/^\s*[-*+]\s+/.test(line)) {
      endPara();
      const items: Inline[][] = [];
      for (; i < lines.length && /^\s*[-*+]\s+/.test(lines[i]); i++) items.push(inline(lines[i].replace(/^\s*[-*+]\s+/, "")));
      i--;
      blocks.push({ t: "ul", items });
    } else if (/^\s*\d+[.)]\s+/.test(line)) {
      endPara();
      const items: Inline[][] = [];
      for (; i < lines.length && /^\s*\d+[.)]\s+/.test(lines[i]); i++) items.push(inline(lines[i].replace(/^\s*\d+[.)]\s+/, "")));
      i--;
      blocks.push({ t: "ol", items });
    } else if ((m = /^>\s?(.*)$/.exec(line))) {
      endPara();
      blocks.push({ t: "quote", c: inline(m[1]) });
    } else if (line.trim() === "") {
      endPara();
    } else {
      para.push(line);
    }
  }
  endPara();
  return blocks;
}
