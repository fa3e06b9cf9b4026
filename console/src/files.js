// The workspace's files: a tree, a viewer and an editor that saves with If-Match, so a file
// changed by someone else meanwhile (the agent, another tab) is reported, never overwritten.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { request } from "./api.js";

const html = htm.bind(h);

const encodePath = (path) => path.split("/").map(encodeURIComponent).join("/");

export function FilesPanel({ sessionId }) {
  const base = `/sessions/${sessionId}/files`;
  const [entries, setEntries] = useState([]);
  const [open, setOpen] = useState(null); // {path, etag, text, encoding}
  const [draft, setDraft] = useState("");
  const [conflict, setConflict] = useState(false);
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  // View (highlighted, read-only) or Edit (a text area): a choice kept while files are opened.
  const [editing, setEditing] = useState(false);
  const [lit, setLit] = useState(null); // {etag, path, language, nodes} of the open file

  const loadTree = () =>
    request("GET", `${base}?recursive=true&limit=2000`).then((d) => setEntries(d.entries), setError);
  useEffect(() => {
    loadTree();
  }, [sessionId]);

  // The highlighter is its own chunk, fetched the first time a file is viewed; until it has
  // answered, the same text shows plain (same font and lines: nothing moves).
  useEffect(() => {
    if (!open || open.encoding !== "utf-8" || editing) return undefined;
    let gone = false;
    import("./highlight.js").then(
      (hl) => {
        const result = hl.highlight(open.text, open.path);
        if (!gone) setLit(result && { ...result, path: open.path, etag: open.etag });
      },
      () => null, // plain text it stays
    );
    return () => {
      gone = true;
    };
  }, [open && open.path, open && open.etag, editing]);

  async function view(path) {
    setError(null);
    setNotice(null);
    setConflict(false);
    try {
      const file = await request("GET", `${base}/${encodePath(path)}?format=json`);
      setOpen(file);
      setDraft(file.encoding === "utf-8" ? file.text : "");
    } catch (err) {
      setError(err);
    }
  }

  async function save(e) {
    e.preventDefault();
    setError(null);
    setNotice(null);
    try {
      const res = await request("PUT", `${base}/${encodePath(open.path)}`, new Blob([draft]), {
        raw: true,
        headers: { "Content-Type": "application/octet-stream", "If-Match": open.etag },
      });
      const saved = await res.json();
      setOpen({ ...open, etag: saved.etag, text: draft, size: saved.size });
      setConflict(false);
      setNotice("Saved.");
      loadTree();
    } catch (err) {
      if (err.status === 412) setConflict(true);
      else setError(err);
    }
  }

  // A file from this computer into the workspace root (or the open file's folder); an existing
  // file of that name is not replaced (POST creates only: 409 says so).
  async function upload(e) {
    const file = e.target.files[0];
    if (!file) return;
    const folder = open && open.path.includes("/") ? open.path.slice(0, open.path.lastIndexOf("/") + 1) : "";
    setError(null);
    setNotice(null);
    try {
      await request("POST", `${base}/${encodePath(folder + file.name)}`, file, {
        headers: { "Content-Type": "application/octet-stream" },
      });
      await loadTree();
      await view(folder + file.name);
      setNotice(`Uploaded ${folder + file.name}.`);
    } catch (err) {
      setError(err);
    } finally {
      e.target.value = "";
    }
  }

  async function remove() {
    if (!confirm(`Delete ${open.path}?`)) return;
    try {
      await request("DELETE", `${base}/${encodePath(open.path)}`);
      setOpen(null);
      loadTree();
    } catch (err) {
      setError(err);
    }
  }

  const shown = lit && open && lit.path === open.path && lit.etag === open.etag ? lit : null;
  return html`<section class="files">
    <nav class="tree" aria-label="Workspace files">
      <div class="row">
        <button class="link" onClick=${loadTree}>↻ Refresh</button>
        <label class="upload">Upload <input type="file" aria-label="Upload a file" onChange=${upload} /></label>
      </div>
      <ul>
        ${entries.map(
          (e) => html`<li key=${e.path} class=${`depth-${Math.min(e.path.split("/").length - 1, 6)}`}>
            ${e.type === "file"
              ? html`<button class="link file" data-path=${e.path} onClick=${() => view(e.path)}>${e.name}</button>`
              : html`<span class="dir">${e.name}${e.type === "dir" ? "/" : ""}</span>`}
          </li>`,
        )}
      </ul>
    </nav>
    <div class="editor">
      ${open
        ? html`<form onSubmit=${save}>
            <div class="row"><code data-open-path=${open.path}>${open.path}</code><span class="muted">${open.size} bytes</span>
              <span class="spacer"></span>
              <a href="#" class="link" onClick=${(e) => (e.preventDefault(), download(base, open.path))}>Download</a>
              <button type="button" class="deny" onClick=${remove}>Delete</button>
              ${open.encoding === "utf-8"
                ? editing
                  ? html`<button type="button" onClick=${() => setEditing(false)} disabled=${draft !== open.text}
                      title=${draft !== open.text ? "Save or reload first" : "Highlighted, read only"}>View</button>`
                  : html`<button type="button" onClick=${() => setEditing(true)}>Edit</button>`
                : null}
              ${editing && open.encoding === "utf-8" ? html`<button type="submit">Save</button>` : null}
            </div>
            ${conflict
              ? html`<div class="conflict" role="alert">
                  This file changed since you opened it; your edit was not saved.
                  <button type="button" onClick=${() => view(open.path)}>Load their version (drops yours)</button>
                </div>`
              : null}
            ${notice ? html`<p class="good" role="status">${notice}</p>` : null}
            ${open.encoding !== "utf-8"
              ? html`<p class="muted">A binary file: download it.</p>`
              : editing
                ? html`<textarea class="code" spellcheck="false" aria-label="File content" value=${draft} onInput=${(e) => setDraft(e.target.value)}></textarea>`
                : html`<pre class="code view" aria-label="File content (read only)" tabindex="0" data-language=${shown ? shown.language : ""}>${shown ? shown.nodes.map(span) : open.text}</pre>`}
          </form>`
        : html`<p class="muted">Pick a file.</p>`}
      <${Err} error=${error} />
    </div>
  </section>`;
}

// A highlighted span: its class names are highlight.js's (hljs-keyword, …), styled in style.css.
function span(node) {
  return typeof node === "string" ? node : html`<span class=${node.cls}>${node.children.map(span)}</span>`;
}

function Err({ error }) {
  return error ? html`<p class="error" role="alert">${error.message}</p>` : null;
}

async function download(base, path) {
  const res = await request("GET", `${base}/${encodePath(path)}`, undefined, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = path.split("/").pop();
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
