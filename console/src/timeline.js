// A session's events folded into what a person reads: streamed text, tool calls with their
// output, questions, ends. Pure: `apply(model, event)` mutates the model only.
// The todo list as the engine keeps it: a markdown checklist, one item a line
// ("[ ]" pending, "[x]" completed, "[-]" in progress).
export function parseTodos(text) {
  if (Array.isArray(text)) return text;
  const items = [];
  for (const line of String(text || "").split("\n")) {
    const m = line.match(/^\s*(?:[-*]\s*)?\[( |x|X|-|~)\]\s*(.*)$/);
    if (m) items.push({ status: m[1] === " " ? "pending" : m[1] === "-" || m[1] === "~" ? "in_progress" : "completed", content: m[2] });
  }
  return items;
}

export function emptyModel() {
  return { items: [], calls: new Map(), asks: new Map(), tasks: new Map(), count: 0, lastSeq: 0 };
}

function task(model, id) {
  if (!model.tasks.has(id)) model.tasks.set(id, { id, state: "queued", todos: [], usage: null });
  return model.tasks.get(id);
}

export function apply(model, ev) {
  const d = ev.data || {};
  const items = model.items;
  const last = items[items.length - 1];
  model.count += 1;
  model.lastSeq = ev.seq;
  const t = ev.taskId ? task(model, ev.taskId) : null;
  switch (ev.event) {
    case "task.created":
      items.push({ type: "note", seq: ev.seq, taskId: ev.taskId, text: `Task started: ${d.mode || ""} ${d.model || ""}`.trim() });
      if (d.mode) t.mode = d.mode;
      break;
    case "task.state":
      t.state = d.to;
      break;
    case "message":
      if (last && last.type === "text" && last.kind === d.kind && last.taskId === ev.taskId) {
        last.text += d.delta;
      } else {
        items.push({ type: "text", seq: ev.seq, taskId: ev.taskId, kind: d.kind, text: d.delta });
      }
      break;
    case "tool.execution":
      if (d.phase === "start") {
        const call = { type: "tool", seq: ev.seq, taskId: ev.taskId, callId: d.callId, tool: d.tool, params: d.params || {}, output: "", end: null };
        model.calls.set(d.callId, call);
        items.push(call);
      } else {
        const call = model.calls.get(d.callId);
        if (!call) break;
        if (d.phase === "output") call.output += d.output || "";
        else if (d.phase === "end") call.end = d;
      }
      break;
    case "approval.required": {
      const ask = { type: "ask", seq: ev.seq, taskId: ev.taskId, ...d, resolved: null };
      model.asks.set(d.approvalId, ask);
      items.push(ask);
      break;
    }
    case "approval.resolved": {
      const ask = model.asks.get(d.approvalId);
      if (ask) ask.resolved = d;
      break;
    }
    case "task.todos":
      t.todos = parseTodos(d.todos);
      break;
    case "task.progress":
      t.usage = d;
      break;
    case "task.mode":
      items.push({ type: "note", seq: ev.seq, taskId: ev.taskId, text: `Mode: ${d.from || "?"} → ${d.to || d.mode || "?"}` });
      break;
    case "task.complete":
      items.push({ type: "complete", seq: ev.seq, taskId: ev.taskId, result: d.result || "", usage: d.usage });
      break;
    case "task.cancelled":
      items.push({ type: "note", seq: ev.seq, taskId: ev.taskId, text: `Cancelled${d.reason ? `: ${d.reason}` : ""}` });
      break;
    case "task.interrupted":
      items.push({ type: "error", seq: ev.seq, taskId: ev.taskId, text: `Interrupted: ${d.message || d.reason || ""}` });
      break;
    case "error.occurred":
      items.push({ type: "error", seq: ev.seq, taskId: ev.taskId, text: `${d.reason || "error"}: ${d.message || ""}` });
      break;
    case "task.delegated":
      items.push({ type: "note", seq: ev.seq, taskId: ev.taskId, text: "Subtask started" });
      break;
    default:
      break;
  }
}
