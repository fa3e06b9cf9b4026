// Syntax highlighting for the file viewer, loaded on demand: files.js imports this module
// dynamically, so it is its own hashed asset, fetched the first time a file is viewed and never
// part of the first load. highlight.js's core with a handful of common languages (docs/console.md).
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import ini from "highlight.js/lib/languages/ini";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = { bash, diff, go, ini, javascript, json, markdown, python, rust, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

const BY_EXTENSION = {
  sh: "bash", bash: "bash", zsh: "bash", diff: "diff", patch: "diff", go: "go",
  ini: "ini", toml: "ini", cfg: "ini", js: "javascript", mjs: "javascript", cjs: "javascript",
  jsx: "javascript", json: "json", md: "markdown", py: "python", rs: "rust",
  ts: "typescript", tsx: "typescript", html: "xml", htm: "xml", xml: "xml", svg: "xml",
  yml: "yaml", yaml: "yaml",
};
// Past this, a file is shown as plain text (highlighting it would hold the page).
const MAX_CHARS = 200_000;

export function languageOf(path) {
  const name = path.split("/").pop().toLowerCase();
  if (name === "dockerfile" || name === "makefile") return null;
  const dot = name.lastIndexOf(".");
  return dot > 0 ? BY_EXTENSION[name.slice(dot + 1)] || null : null;
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'" };

// The file's text as a tree of strings and {cls, children} spans, or null when its language is
// not known. highlight.js answers HTML in which every character of the file is escaped and the only
// markup is its own <span class="hljs-…">; that is turned back into data here, so the viewer
// renders text nodes and never sets HTML.
export function highlight(text, path) {
  const language = languageOf(path);
  if (!language || text.length > MAX_CHARS) return null;
  const out = hljs.highlight(text, { language, ignoreIllegals: true }).value;
  const root = { cls: "", children: [] };
  const stack = [root];
  for (const m of out.matchAll(/<span class="([^"<>]*)">|<\/span>|[^<]+/g)) {
    const top = stack[stack.length - 1];
    if (m[1] !== undefined) {
      const node = { cls: m[1], children: [] };
      top.children.push(node);
      stack.push(node);
    } else if (m[0] === "</span>") {
      if (stack.length > 1) stack.pop();
    } else {
      top.children.push(m[0].replace(/&(?:amp|lt|gt|quot|#x27);/g, (e) => ENTITIES[e]));
    }
  }
  return { language, nodes: root.children };
}
