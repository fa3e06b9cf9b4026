import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import * as api from "./api.js";
import { LiveSession } from "./live.js";
import { apply, emptyModel, parseTodos } from "./timeline.js";
import { FilesPanel } from "./files.js";
import { AccountPanel } from "./account.js";

const html = htm.bind(h);
// The timeline shows the last PAGE items; earlier ones a page at a time, on demand: a task of
// thousands of events stays one cheap render.
const PAGE = 200;
const ACTIVE = new Set(["queued", "running", "awaiting_approval", "awaiting_input"]);

function route() {
  if (location.hash === "#/account") return { sessionId: null, tab: "account" };
  const [, sessionId, tab] = location.hash.match(/^#\/s\/([0-9a-f-]+)(?:\/(files))?/) || [];
  return { sessionId: sessionId || null, tab: tab || "task" };
}

function useRoute() {
  const [r, setR] = useState(route());
  useEffect(() => {
    const on = () => setR(route());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return r;
}

// A problem's detail and, for a 422, each field it names (`body.config.limits.maxMemoryMB: at
// most 2048 for your role`), shown by its last part.
export function ErrorLine({ error }) {
  if (!error) return null;
  const fields = Array.isArray(error.problem?.errors) ? error.problem.errors : [];
  return html`<div class="error" role="alert">
    <p>${error.message || String(error)}</p>
    ${fields.length
      ? html`<ul>${fields.map((f) => html`<li data-field=${f.field}>${String(f.field || "").split(".").pop()}: ${f.message}</li>`)}</ul>`
      : null}
  </div>`;
}

function SignIn({ onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [providers, setProviders] = useState([]);
  useEffect(() => {
    api.get("/auth/oauth/providers").then((p) => setProviders(p.providers), () => setProviders([]));
  }, []);
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.target);
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.signIn(form.get("email"), form.get("password")));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="signin">
    <form onSubmit=${submit} aria-label="Sign in">
      <h1>roo console</h1>
      <label>Email <input name="email" type="email" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
      ${providers.map(
        (p) => html`<a class="button" href=${`/api/v1/auth/oauth/${encodeURIComponent(p.name)}/authorize`}>Sign in with ${p.displayName}</a>`,
      )}
      <${ErrorLine} error=${error} />
    </form>
  </main>`;
}

// The limits a session can ask for at creation (docs/sessions.md): name, label, the default.
const LIMITS = [
  ["maxMemoryMB", "Memory (MB)", "512"],
  ["maxCpuPercent", "CPU (%)", "100"],
  ["maxDiskMB", "Disk (MB)", "1024"],
  ["maxExecutionTime", "Command time (s)", "300"],
  ["maxConcurrentTasks", "Tasks at once", "1"],
];

// The import route reads the archive's kind from its first bytes; the type is sent as a courtesy.
function archiveType(name) {
  const n = name.toLowerCase();
  if (n.endsWith(".zip")) return "application/zip";
  if (n.endsWith(".tar")) return "application/x-tar";
  if (n.endsWith(".tar.gz") || n.endsWith(".tgz")) return "application/gzip";
  if (n.endsWith(".tar.bz2")) return "application/x-bzip2";
  if (n.endsWith(".tar.xz")) return "application/x-xz";
  return "application/octet-stream";
}

function Sessions({ current, onChange, version }) {
  const [sessions, setSessions] = useState([]);
  const [error, setError] = useState(null);
  const load = () => api.get("/sessions?limit=100").then((page) => setSessions(page.items), setError);
  useEffect(() => {
    load();
  }, [version]);
  const [progress, setProgress] = useState(null);
  async function create(e) {
    e.preventDefault();
    const form = new FormData(e.target);
    const name = form.get("name").trim();
    const limits = {};
    for (const [key] of LIMITS) {
      const value = String(form.get(key) || "").trim();
      if (value) limits[key] = Number(value);
    }
    const archive = form.get("archive");
    const file = archive && archive.size ? archive : null;
    setError(null);
    setProgress(null);
    let s;
    try {
      s = await api.post("/sessions", {
        ...(name ? { name } : {}),
        ...(Object.keys(limits).length ? { config: { limits } } : {}),
      });
    } catch (err) {
      setError(err); // a limit over the quota: 422 naming the field, nothing created
      return;
    }
    e.target.reset();
    await load();
    if (!file) {
      location.hash = `#/s/${s.id}`;
      return;
    }
    // the new (empty) workspace filled from the archive, then its files shown
    try {
      setProgress({ name: file.name, sent: 0, total: file.size });
      const done = await api.upload(`/sessions/${s.id}/workspace/import`, file, archiveType(file.name), (sent, total) =>
        setProgress({ name: file.name, sent, total }),
      );
      setProgress({ name: file.name, sent: file.size, total: file.size, done });
    } catch (err) {
      setProgress(null);
      setError(new api.ApiError(err.status, { ...err.problem, detail: `Session "${s.name}" created, but its archive was not imported: ${err.message}` }));
    }
    location.hash = `#/s/${s.id}/files`;
  }
  async function remove(s) {
    if (!confirm(`Delete session "${s.name}" and its workspace?`)) return;
    try {
      await api.del(`/sessions/${s.id}`);
      if (current === s.id) location.hash = "#/";
      await load();
      onChange();
    } catch (err) {
      setError(err);
    }
  }
  return html`<nav class="sessions" aria-label="Sessions">
    <form onSubmit=${create} class="create" aria-label="Create a session">
      <div class="row">
        <input name="name" placeholder="New session name" aria-label="New session name" maxlength="200" />
        <button type="submit" disabled=${progress && !progress.done}>Create</button>
      </div>
      <details>
        <summary>Limits and archive</summary>
        <p class="muted">Empty: the default (shown). At most your role's quota.</p>
        ${LIMITS.map(
          ([key, label, fallback]) => html`<label class="limit">${label}
            <input name=${key} type="number" min="1" step="1" inputmode="numeric" placeholder=${fallback} aria-label=${label} />
          </label>`,
        )}
        <label class="limit">Start from an archive
          <input name="archive" type="file" accept=".zip,.tar,.tgz,.tar.gz,.tar.bz2,.tar.xz" aria-label="Start from an archive" />
        </label>
      </details>
    </form>
    ${progress
      ? html`<p class="muted" role="status" data-import=${progress.done ? "done" : "sending"}>
          ${progress.done
            ? `Imported ${progress.name}: ${progress.done.files} files${progress.done.directories ? `, ${progress.done.directories} folders` : ""}.`
            : html`Importing ${progress.name}… <progress max=${progress.total || 1} value=${progress.sent}></progress>`}
        </p>`
      : null}
    <${ErrorLine} error=${error} />
    <ul>
      ${sessions.map(
        (s) => html`<li key=${s.id} class=${s.id === current ? "current" : ""}>
          <a href=${`#/s/${s.id}`}>${s.name}</a>
          <span class="muted">${s.state}</span>
          <button class="icon" title="Delete session" aria-label=${`Delete ${s.name}`} onClick=${() => remove(s)}>✕</button>
        </li>`,
      )}
    </ul>
  </nav>`;
}

function Params({ params }) {
  const entries = Object.entries(params || {});
  return html`<dl class="params">
    ${entries.map(([k, v]) => html`<dt>${k}</dt><dd><pre>${typeof v === "string" ? v : JSON.stringify(v, null, 2)}</pre></dd>`)}
  </dl>`;
}

function Diff({ diff, truncated }) {
  if (diff == null) return html`<p class="muted">The change is too large to show.</p>`;
  const kind = (line) =>
    line.startsWith("+++") || line.startsWith("---") ? "file" : line[0] === "+" ? "add" : line[0] === "-" ? "del" : line[0] === "@" ? "hunk" : "";
  return html`<pre class="diff">${diff.replace(/\n$/, "").split("\n").map((line) => html`<span class=${kind(line)}>${line}</span>`)}</pre>
    ${truncated ? html`<p class="muted">(diff cut)</p>` : null}`;
}

function Ask({ ask, act }) {
  const [feedback, setFeedback] = useState("");
  const [error, setError] = useState(null);
  const go = (action, text) =>
    act(ask.taskId, { action, approvalId: ask.approvalId, ...(text ? { text, feedback: text } : {}) }).catch(setError);
  if (ask.resolved) {
    return html`<div class="ask resolved" data-approval=${ask.approvalId}>
      <strong>${ask.kind === "followup" ? "Question" : "Approval"}</strong> ${ask.text || ask.tool}
      <span class="muted"> — ${ask.resolved.action}${ask.resolved.text ? `: ${ask.resolved.text}` : ""}</span>
    </div>`;
  }
  if (ask.kind === "followup") {
    return html`<div class="ask open" data-approval=${ask.approvalId}>
      <p><strong>Question:</strong> ${ask.text}</p>
      <div class="row">
        ${(ask.suggestions || []).map((s) => {
          const text = typeof s === "string" ? s : s.text || s.answer;
          return html`<button class="suggestion" onClick=${() => go("answer", text)}>${text}</button>`;
        })}
      </div>
      <form class="row" onSubmit=${(e) => (e.preventDefault(), go("answer", feedback))}>
        <input value=${feedback} onInput=${(e) => setFeedback(e.target.value)} placeholder="Your answer" aria-label="Your answer" />
        <button type="submit">Answer</button>
      </form>
      <${ErrorLine} error=${error} />
    </div>`;
  }
  return html`<div class="ask open" data-approval=${ask.approvalId}>
    <p><strong>Approve ${ask.tool || ask.kind}?</strong></p>
    ${ask.kind === "command" ? html`<pre class="command">${ask.text}</pre>` : html`<${Params} params=${ask.params} />`}
    <div class="row">
      <button class="approve" onClick=${() => go("approve", feedback)}>Approve</button>
      <button onClick=${() => go("approve_always", feedback)}>Always</button>
      <input value=${feedback} onInput=${(e) => setFeedback(e.target.value)} placeholder="Feedback (optional)" aria-label="Feedback" />
      <button class="deny" onClick=${() => go("deny", feedback)}>Deny</button>
    </div>
    <${ErrorLine} error=${error} />
  </div>`;
}

function Item({ item, act }) {
  switch (item.type) {
    case "text":
      if (item.kind === "reasoning") {
        return html`<details class="reasoning"><summary>Reasoning</summary><p>${item.text}</p></details>`;
      }
      return html`<p class="assistant">${item.text}</p>`;
    case "tool":
      return html`<div class="tool" data-call=${item.callId}>
        <div class="tool-head"><code>${item.tool}</code>
          ${item.end ? html`<span class=${item.end.isError ? "bad" : "good"}>${item.end.isError ? "failed" : "done"} (${item.end.durationMs} ms)</span>` : html`<span class="muted">running…</span>`}
        </div>
        ${item.tool === "execute_command" ? html`<pre class="command">$ ${item.params.command}</pre>` : html`<details><summary>parameters</summary><${Params} params=${item.params} /></details>`}
        ${item.output ? html`<pre class="output">${item.output}</pre>` : null}
        ${item.end && item.end.data && "diff" in item.end.data ? html`<${Diff} diff=${item.end.data.diff} truncated=${item.end.data.diffTruncated} />` : null}
      </div>`;
    case "ask":
      return html`<${Ask} ask=${item} act=${act} />`;
    case "complete":
      return html`<div class="complete"><strong>Completed</strong><p>${item.result}</p></div>`;
    case "error":
      return html`<p class="error">${item.text}</p>`;
    default:
      return html`<p class="note muted">${item.text}</p>`;
  }
}

function NewTask({ sessionId, disabled, onError }) {
  const [modes, setModes] = useState([]);
  const [mode, setMode] = useState("");
  useEffect(() => {
    api.get(`/sessions/${sessionId}/modes`).then(
      (m) => (setModes(m.modes || m.items || []), setMode(m.defaultMode || "")),
      () => setModes([]),
    );
  }, [sessionId]);
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.target);
    const config = {};
    if (form.get("mode")) config.mode = form.get("mode");
    if (form.get("model").trim()) config.model = form.get("model").trim();
    try {
      await api.post(`/sessions/${sessionId}/tasks`, { input: form.get("input"), config });
      e.target.reset();
    } catch (err) {
      onError(err);
    }
  }
  return html`<form class="newtask" onSubmit=${submit} aria-label="Start a task">
    <textarea name="input" required maxlength="10000" rows="3" placeholder="What should the agent do?" aria-label="What should the agent do?"></textarea>
    <div class="row">
      <label>Mode <select name="mode" aria-label="Mode" value=${mode} onChange=${(e) => setMode(e.target.value)}>${modes.map((m) => html`<option value=${m.slug}>${m.name}</option>`)}</select></label>
      <label>Model <input name="model" placeholder="default" /></label>
      <button type="submit" disabled=${disabled}>Start task</button>
    </div>
  </form>`;
}

function TaskPanel({ sessionId }) {
  const [, setTick] = useState(0);
  const [status, setStatus] = useState("connecting");
  const [error, setError] = useState(null);
  const model = useRef(null);
  const live = useRef(null);
  const [message, setMessage] = useState("");
  const [shown, setShown] = useState(PAGE);
  useEffect(() => {
    model.current = emptyModel();
    let frame = 0;
    const redraw = () => {
      if (!frame) frame = requestAnimationFrame(() => ((frame = 0), setTick((n) => n + 1)));
    };
    const session = new LiveSession(sessionId, {
      onEvent: (ev) => (apply(model.current, ev), redraw()),
      onHello: (hello) => {
        for (const t of hello.state?.tasks || []) {
          const known = model.current.tasks.get(t.id) || { id: t.id, todos: [] };
          model.current.tasks.set(t.id, { ...known, state: t.state, todos: t.todos ? parseTodos(t.todos) : known.todos });
        }
        redraw();
      },
      onStatus: setStatus,
    });
    live.current = session;
    session.open();
    return () => (session.close(), frame && cancelAnimationFrame(frame));
  }, [sessionId]);
  const m = model.current || emptyModel();
  const tasks = [...m.tasks.values()];
  const active = tasks.filter((t) => ACTIVE.has(t.state));
  const current = active[active.length - 1] || tasks[tasks.length - 1];
  const act = (taskId, body) => api.put(`/sessions/${sessionId}/tasks/${taskId}`, body);
  const cancel = () => api.del(`/sessions/${sessionId}/tasks/${current.id}`).catch(setError);
  async function send(e) {
    e.preventDefault();
    try {
      await act(current.id, { action: "message", text: message });
      setMessage("");
    } catch (err) {
      setError(err);
    }
  }
  const usage = current?.usage?.usage || current?.usage?.taskUsage || null;
  return html`<section class="taskpanel">
    <div class="status row">
      <span class=${`dot ${status}`} data-status=${status}>${status}</span>
      ${current ? html`<span>task <code>${current.id.slice(0, 8)}</code>: <strong data-task-state=${current.state}>${current.state}</strong></span>` : null}
      ${usage ? html`<span class="muted">${usage.inputTokens ?? usage.input_tokens ?? 0} in / ${usage.outputTokens ?? usage.output_tokens ?? 0} out${usage.cost != null ? ` · $${Number(usage.cost).toFixed(4)}` : ""}</span>` : null}
      ${current && ACTIVE.has(current.state) ? html`<button class="deny" onClick=${cancel}>Cancel task</button>` : null}
    </div>
    ${current?.todos?.length
      ? html`<ul class="todos" aria-label="Todo list">${current.todos.map((t) => html`<li class=${t.status} data-todo=${t.status}>${t.content}</li>`)}</ul>`
      : null}
    <div class="timeline" aria-live="polite" data-event-count=${m.count} data-last-seq=${m.lastSeq}>
      ${m.items.length > shown
        ? html`<button class="link" onClick=${() => setShown(shown + PAGE)}>Show ${Math.min(PAGE, m.items.length - shown)} earlier of ${m.items.length - shown}</button>`
        : null}
      ${m.items.slice(-shown).map((item) => html`<${Item} key=${item.seq} item=${item} act=${act} />`)}
    </div>
    <${ErrorLine} error=${error} />
    ${current && current.state !== "queued" && (ACTIVE.has(current.state) || current.state === "completed")
      ? html`<form class="row" onSubmit=${send}><input value=${message} onInput=${(e) => setMessage(e.target.value)} placeholder="Message the agent" aria-label="Message" required /><button type="submit">Send</button></form>`
      : null}
    ${current && ["failed", "interrupted", "cancelled"].includes(current.state) ? html`<button onClick=${() => act(current.id, { action: "resume" }).catch(setError)}>Resume</button>` : null}
    <${NewTask} sessionId=${sessionId} disabled=${active.length > 0} onError=${setError} />
  </section>`;
}

const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

function SessionHead({ sessionId, onChange }) {
  const [session, setSession] = useState(null);
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const load = () => {
    api.get(`/sessions/${sessionId}`).then(setSession, setError);
    api.get(`/sessions/${sessionId}/resources`).then(setRes, () => setRes(null));
  };
  useEffect(load, [sessionId]);
  async function setState(state) {
    try {
      setSession(await api.put(`/sessions/${sessionId}`, { state }));
      onChange();
    } catch (err) {
      setError(err);
    }
  }
  if (!session) return html`<${ErrorLine} error=${error} />`;
  const archived = session.state === "archived";
  return html`<div class="sessionhead row">
    <h1>${session.name}</h1>
    <span class="muted" data-session-state=${session.state}>${session.state}</span>
    ${res
      ? html`<span class="muted" data-resources>disk ${mib(res.disk.usedBytes)} of ${mib(res.disk.limitBytes)} · ${res.disk.usedFiles} of ${res.disk.limitFiles} files · ${res.runningTasks} task(s) active</span>`
      : null}
    <span class="spacer"></span>
    <button class="link" onClick=${load} aria-label="Refresh the session" title="Refresh">↻</button>
    ${archived
      ? html`<button onClick=${() => setState("active")}>Restore</button>`
      : html`<button onClick=${() => setState("archived")}>Archive</button>`}
    <${ErrorLine} error=${error} />
  </div>`;
}

function SessionView({ sessionId, tab, onChange }) {
  return html`<section class="session">
    <${SessionHead} sessionId=${sessionId} onChange=${onChange} />
    <div class="tabs" role="tablist">
      <a role="tab" aria-selected=${tab === "task"} href=${`#/s/${sessionId}`}>Tasks</a>
      <a role="tab" aria-selected=${tab === "files"} href=${`#/s/${sessionId}/files`}>Files</a>
    </div>
    ${tab === "files" ? html`<${FilesPanel} sessionId=${sessionId} />` : html`<${TaskPanel} sessionId=${sessionId} />`}
  </section>`;
}

function App() {
  const [user, setUser] = useState(null);
  const [restoring, setRestoring] = useState(() => api.adoptFragment() || api.hasSavedSignIn());
  const [version, setVersion] = useState(0);
  const { sessionId, tab } = useRoute();
  useEffect(() => {
    api.setSignedOutHandler(() => setUser(null));
    if (restoring) {
      // a fresh access token from the OAuth fragment: the profile; else the tab's refresh token
      const restore = api.hasAccess() ? api.get("/auth/profile") : api.refresh();
      restore.then(setUser, () => setUser(null)).finally(() => setRestoring(false));
    }
  }, []);
  if (restoring) return html`<p class="muted">Signing in…</p>`;
  if (!user) return html`<${SignIn} onSignedIn=${setUser} />`;
  async function signOut() {
    await api.signOut();
    location.hash = "#/";
    setUser(null);
  }
  return html`<div class="shell">
    <header class="row">
      <strong>roo console</strong>
      <span class="spacer"></span>
      <a href="#/account" class="muted" data-user>${user.email}</a>
      <button onClick=${signOut}>Sign out</button>
    </header>
    <div class="main">
      <${Sessions} current=${sessionId} version=${version} onChange=${() => setVersion((v) => v + 1)} />
      ${tab === "account"
        ? html`<${AccountPanel} />`
        : sessionId
          ? html`<${SessionView} key=${sessionId} sessionId=${sessionId} tab=${tab} onChange=${() => setVersion((v) => v + 1)} />`
          : html`<p class="muted empty">Pick or create a session.</p>`}
    </div>
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
