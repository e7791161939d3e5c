// Assistant text as Markdown: react-markdown (through assistant-ui's streaming-aware primitive)
// with GitHub tables and lists, and rehype-sanitize's allow-list on the tree, so a reply can never
// inject HTML, scripts or javascript: links. Links open in a new tab without the opener.
import { MarkdownTextPrimitive } from "@assistant-ui/react-markdown";
import type { AnchorHTMLAttributes } from "react";
import rehypeSanitize from "rehype-sanitize";
import remarkGfm from "remark-gfm";

const Link = (props: AnchorHTMLAttributes<HTMLAnchorElement>) => <a {...props} target="_blank" rel="noopener noreferrer" />;

export function MarkdownText() {
  return (
    <MarkdownTextPrimitive
      className="bubble md"
      remarkPlugins={[remarkGfm]}
      rehypePlugins={[rehypeSanitize]}
      components={{ a: Link }}
    />
  );
}
