import { describe, expect, it } from "vitest";
import { inline, parse } from "./markdown";

describe("markdown", () => {
  it("keeps raw HTML as text", () => {
    expect(parse("<img src=x onerror=alert(1)> **hi**")).toEqual([
      { t: "p", c: [{ t: "text", v: "<img src=x onerror=alert(1)> " }, { t: "strong", c: [{ t: "text", v: "hi" }] }] },
    ]);
  });
  it("drops unsafe link targets", () => {
    expect(inline("[x](javascript:alert(1))")).toEqual([{ t: "text", v: "x" }, { t: "text", v: ")" }]);
    expect(inline("[docs](https://example.com)")).toEqual([{ t: "link", href: "https://example.com", c: [{ t: "text", v: "docs" }] }]);
  });
  it("parses lists, code blocks and headings", () => {
    const blocks = parse("# Title\n\n- a\n- `b`\n\n```py\nx = 1\n```\n1. one\n2. two");
    expect(blocks.map((b) => b.t)).toEqual(["h", "ul", "pre", "ol"]);
    expect(blocks[2]).toEqual({ t: "pre", lang: "py", v: "x = 1" });
  });
  it("does not treat snake_case as emphasis", () => {
    expect(inline("a_b_c")).toEqual([{ t: "text", v: "a_b_c" }]);
  });
});
