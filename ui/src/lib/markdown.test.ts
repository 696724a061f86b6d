import { describe, expect, it } from "vitest";
import { parse, safeHref, toHtml } from "./markdown";

const html = (text: string, me = "") => toHtml(parse(text, me));

describe("markdown subset", () => {
  it("renders bold, italic, inline code and code blocks", () => {
    expect(html("**bold** and *it* and _it2_ and `x<y`")).toBe(
      "<p><strong>bold</strong> and <em>it</em> and <em>it2</em> and <code>x&lt;y</code></p>",
    );
    expect(html("before\n```js\nlet a = '<b>';\n```\nafter")).toBe(
      "<p>before</p><pre><code>let a = &#39;&lt;b&gt;&#39;;</code></pre><p>after</p>",
    );
  });

  it("leaves snake_case and lone markers as text", () => {
    expect(html("my_var_name and 2 * 3 and **")).toBe("<p>my_var_name and 2 * 3 and **</p>");
  });

  it("links http and https only", () => {
    expect(html("see https://example.org/a?b=1&c=2.")).toBe(
      '<p>see <a href="https://example.org/a?b=1&amp;c=2">https://example.org/a?b=1&amp;c=2</a>.</p>',
    );
    expect(html("[docs](http://example.org/x)")).toBe('<p><a href="http://example.org/x">docs</a></p>');
    expect(html("[click](javascript:alert(1))")).toBe("<p>[click](javascript:alert(1))</p>");
    expect(html("javascript:alert(1)")).toBe("<p>javascript:alert(1)</p>");
    expect(html("[x](data:text/html;base64,PHNjcmlwdD4=)")).not.toContain("<a");
    expect(html("[x]( JAVASCRIPT:alert(1))")).not.toContain("<a");
    expect(safeHref("vbscript:msgbox")).toBeNull();
    expect(safeHref("HTTPS://EXAMPLE.ORG")).toBe("https://example.org/");
  });

  it("escapes HTML in every position", () => {
    const attack = '<img src=x onerror="alert(1)">';
    expect(html(attack)).toBe("<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>");
    expect(html(`**${attack}**`)).toBe("<p><strong>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</strong></p>");
    expect(html("`<script>alert(1)</script>`")).toBe("<p><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></p>");
    expect(html('[<b onmouseover="x">hi</b>](https://example.org/"onclick="x)')).not.toMatch(/<b |onclick="x"|" onclick/);
    // A link target cannot break out of its attribute.
    const out = html('https://example.org/"><script>alert(1)</script>');
    expect(out).not.toContain("<script>");
    expect(out).not.toMatch(/href="[^"]*"[^>]*"/);
  });

  it("handles deep nesting without recursion blowing up", () => {
    const deep = "**_*".repeat(500) + "x" + "*_**".repeat(500);
    expect(() => html(deep)).not.toThrow();
    expect(html(deep)).not.toContain("<script");
    const nested = "*a **b _c `d` c_ b** a*";
    expect(html(nested)).toBe("<p><em>a <strong>b <em>c <code>d</code> c</em> b</strong> a</em></p>");
  });

  it("marks mentions, and mentions of oneself", () => {
    expect(html("hi @Bob and @sam", "Sam")).toBe(
      '<p>hi <span class="mention">@Bob</span> and <span class="mention self">@sam</span></p>',
    );
    expect(html("mail me at a@b.org")).toBe("<p>mail me at a@b.org</p>");
  });
});
