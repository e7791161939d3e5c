import type { ReactNode } from "react";
import { parse, type Inline } from "./lib/markdown";

// Renders the parsed tree as React elements: text is always text (no innerHTML anywhere).
function spans(items: Inline[]): ReactNode[] {
  return items.map((n, i) => {
    switch (n.t) {
      case "text":
        return n.v;
      case "code":
        return <code key={i}>{n.v}</code>;
      case "strong":
        return <strong key={i}>{spans(n.c)}</strong>;
      case "em":
        return <em key={i}>{spans(n.c)}</em>;
      case "link":
        return (
          <a key={i} href={n.href} rel="noopener noreferrer" target="_blank">
            {spans(n.c)}
          </a>
        );
    }
  });
}

export function Markdown({ text }: { text: string }) {
  return (
    <div className="md">
      {parse(text).map((b, i) => {
        switch (b.t) {
          case "p":
            return <p key={i}>{spans(b.c)}</p>;
          case "h":
            return <p key={i} className={`h h${b.level}`}><strong>{spans(b.c)}</strong></p>;
          case "pre":
            return <pre key={i}><code>{b.v}</code></pre>;
          case "ul":
            return <ul key={i}>{b.items.map((it, j) => <li key={j}>{spans(it)}</li>)}</ul>;
          case "ol":
            return <ol key={i}>{b.items.map((it, j) => <li key={j}>{spans(it)}</li>)}</ol>;
          case "quote":
            return <blockquote key={i}>{spans(b.c)}</blockquote>;
        }
      })}
    </div>
  );
}
