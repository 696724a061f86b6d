// A safe Markdown subset for chat: **bold**, *italic* / _italic_, `inline code`, ```code
// blocks```, http(s) links (bare or [text](url)) and @mentions. Everything else is text.
//
// Safety by construction: parse() returns a tree of plain data whose leaves are strings, and
// toDom() builds elements with createElement and text with createTextNode, so no user text is
// ever parsed as HTML. Link targets must parse as http: or https: URLs; anything else
// (javascript:, data:, …) stays text. Never pass user text to innerHTML or {@html}.

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "bold"; children: Inline[] }
  | { kind: "italic"; children: Inline[] }
  | { kind: "code"; text: string }
  | { kind: "link"; href: string; children: Inline[] }
  | { kind: "mention"; name: string; self: boolean };

export type Block = { kind: "paragraph"; children: Inline[] } | { kind: "codeblock"; text: string };

/** Nesting depth beyond which markup is taken as text (keeps parsing linear and shallow). */
const MAX_DEPTH = 4;

/** Returns the href if `raw` is an absolute http(s) URL, else null. */
export function safeHref(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.href;
}

export function parse(text: string, myName = ""): Block[] {
  const blocks: Block[] = [];
  const fence = /```(?:[^\n`]*\n)?([\s\S]*?)```/g;
  let last = 0;
  for (let match = fence.exec(text); match; match = fence.exec(text)) {
    pushParagraphs(blocks, text.slice(last, match.index), myName);
    blocks.push({ kind: "codeblock", text: match[1].replace(/\n$/, "") });
    last = match.index + match[0].length;
  }
  pushParagraphs(blocks, text.slice(last), myName);
  return blocks;
}

function pushParagraphs(blocks: Block[], text: string, myName: string): void {
  const trimmed = text.replace(/^\n+|\n+$/g, "");
  if (trimmed === "") return;
  blocks.push({ kind: "paragraph", children: parseInline(trimmed, myName, 0) });
}

const URL_CHARS = /[^\s<>"]+/y;
const MENTION = /@([\p{L}\p{N}_\-.']+)/uy;

function parseInline(text: string, myName: string, depth: number): Inline[] {
  const out: Inline[] = [];
  let buffer = "";
  const flush = () => {
    if (buffer) out.push({ kind: "text", text: buffer });
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    // `code`
    if (text[i] === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) {
        flush();
        out.push({ kind: "code", text: text.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (depth < MAX_DEPTH) {
      // **bold**
      if (rest.startsWith("**")) {
        const end = text.indexOf("**", i + 2);
        if (end > i + 2) {
          flush();
          out.push({ kind: "bold", children: parseInline(text.slice(i + 2, end), myName, depth + 1) });
          i = end + 2;
          continue;
        }
      }
      // *italic* or _italic_ (not inside words for _, so snake_case stays text)
      if ((text[i] === "*" || text[i] === "_") && text[i + 1] !== text[i] && text[i + 1] !== " ") {
        const mark = text[i];
        const before = i > 0 ? text[i - 1] : " ";
        const end = closingSingle(text, mark, i + 1);
        const after = end >= 0 ? (text[end + 1] ?? " ") : " ";
        const wordy = /[\p{L}\p{N}]/u;
        if (end > i + 1 && (mark === "*" || (!wordy.test(before) && !wordy.test(after)))) {
          flush();
          out.push({ kind: "italic", children: parseInline(text.slice(i + 1, end), myName, depth + 1) });
          i = end + 1;
          continue;
        }
      }
      // [label](http://…)
      if (text[i] === "[") {
        const close = text.indexOf("](", i);
        const end = close >= 0 ? text.indexOf(")", close + 2) : -1;
        if (close > i && end > close) {
          const href = safeHref(text.slice(close + 2, end));
          if (href) {
            flush();
            out.push({ kind: "link", href, children: parseInline(text.slice(i + 1, close), myName, depth + 1) });
            i = end + 1;
            continue;
          }
        }
      }
    }
    // bare http(s)://… links
    if (/^https?:\/\//i.test(rest) && (i === 0 || /[\s(]/.test(text[i - 1]))) {
      URL_CHARS.lastIndex = i;
      const match = URL_CHARS.exec(text);
      if (match) {
        // Trailing punctuation belongs to the sentence, not the link.
        const raw = match[0].replace(/[.,;:!?)\]]+$/, "");
        const href = safeHref(raw);
        if (href) {
          flush();
          out.push({ kind: "link", href, children: [{ kind: "text", text: raw }] });
          i += raw.length;
          continue;
        }
      }
    }
    // @mention
    if (text[i] === "@" && (i === 0 || /\s|[(]/.test(text[i - 1]))) {
      MENTION.lastIndex = i;
      const match = MENTION.exec(text);
      if (match) {
        flush();
        const name = match[1];
        out.push({ kind: "mention", name, self: myName !== "" && name.toLowerCase() === myName.toLowerCase() });
        i += match[0].length;
        continue;
      }
    }
    buffer += text[i];
    i += 1;
  }
  flush();
  return out;
}

/** The next lone `mark` (not part of a doubled `**`) at or after `from`, or -1. */
function closingSingle(text: string, mark: string, from: number): number {
  let at = text.indexOf(mark, from);
  while (at >= 0 && text[at + 1] === mark) {
    // Skip the whole run of marks: it opens or closes something else (bold).
    let end = at;
    while (text[end] === mark) end++;
    at = text.indexOf(mark, end);
  }
  return at;
}

/** Builds DOM nodes for the blocks. Text always goes through createTextNode. */
export function toDom(blocks: Block[], doc: Document): DocumentFragment {
  const fragment = doc.createDocumentFragment();
  for (const block of blocks) {
    if (block.kind === "codeblock") {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      code.appendChild(doc.createTextNode(block.text));
      pre.appendChild(code);
      fragment.appendChild(pre);
    } else {
      const p = doc.createElement("p");
      appendInline(p, block.children, doc);
      fragment.appendChild(p);
    }
  }
  return fragment;
}

function appendInline(parent: Node, nodes: Inline[], doc: Document): void {
  for (const node of nodes) {
    switch (node.kind) {
      case "text":
        parent.appendChild(doc.createTextNode(node.text));
        break;
      case "code": {
        const code = doc.createElement("code");
        code.appendChild(doc.createTextNode(node.text));
        parent.appendChild(code);
        break;
      }
      case "bold":
      case "italic": {
        const el = doc.createElement(node.kind === "bold" ? "strong" : "em");
        appendInline(el, node.children, doc);
        parent.appendChild(el);
        break;
      }
      case "link": {
        const a = doc.createElement("a");
        a.setAttribute("href", node.href);
        a.setAttribute("target", "_blank");
        a.setAttribute("rel", "noopener noreferrer nofollow");
        appendInline(a, node.children, doc);
        parent.appendChild(a);
        break;
      }
      case "mention": {
        const span = doc.createElement("span");
        span.className = node.self ? "mention self" : "mention";
        span.appendChild(doc.createTextNode("@" + node.name));
        parent.appendChild(span);
        break;
      }
    }
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * The same output as toDom, serialized with every string escaped. For tests and for places
 * without a DOM; the app itself uses toDom.
 */
export function toHtml(blocks: Block[]): string {
  const inline = (nodes: Inline[]): string =>
    nodes
      .map((n) => {
        switch (n.kind) {
          case "text":
            return escapeHtml(n.text);
          case "code":
            return `<code>${escapeHtml(n.text)}</code>`;
          case "bold":
            return `<strong>${inline(n.children)}</strong>`;
          case "italic":
            return `<em>${inline(n.children)}</em>`;
          case "link":
            return `<a href="${escapeHtml(n.href)}">${inline(n.children)}</a>`;
          case "mention":
            return `<span class="mention${n.self ? " self" : ""}">@${escapeHtml(n.name)}</span>`;
        }
      })
      .join("");
  return blocks
    .map((b) =>
      b.kind === "codeblock" ? `<pre><code>${escapeHtml(b.text)}</code></pre>` : `<p>${inline(b.children)}</p>`,
    )
    .join("");
}

/** A Svelte action: renders `text` as Markdown into the node (replacing its children). */
export function markdown(node: HTMLElement, params: { text: string; me: string }) {
  const render = (p: { text: string; me: string }) => {
    node.replaceChildren(toDom(parse(p.text, p.me), node.ownerDocument));
  };
  render(params);
  return { update: render };
}
