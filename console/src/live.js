// A session's events over its WebSocket: a one-use ticket (no secret in the URL), resume from
// the last `seq` after any drop, each event handed on once, in order.
import { post, refresh } from "./api.js";

const RETRY_CODES = new Set([1000, 1001, 1005, 1006, 1011, 1012, 4408]);

export class LiveSession {
  constructor(sessionId, { onEvent, onHello, onStatus }) {
    this.sessionId = sessionId;
    this.onEvent = onEvent;
    this.onHello = onHello;
    this.onStatus = onStatus;
    this.lastSeq = 0;
    this.socket = null;
    this.closed = false;
    this.delay = 500;
    this.pending = new Map();
    this.nextId = 1;
    this.connects = 0;
  }

  async open() {
    if (this.closed) return;
    this.onStatus("connecting");
    let ticket;
    try {
      ({ ticket } = await post(`/sessions/${this.sessionId}/ws-ticket`));
    } catch (err) {
      if (err.status === 404 || err.status === 401 || err.status === 403) {
        this.onStatus("closed");
        return;
      }
      this.retry();
      return;
    }
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url =
      `${scheme}://${location.host}/api/v1/sessions/${this.sessionId}/ws` +
      `?ticket=${encodeURIComponent(ticket)}&lastSeq=${this.lastSeq}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onmessage = (m) => this.receive(JSON.parse(m.data));
    socket.onclose = (e) => this.dropped(socket, e.code);
  }

  receive(msg) {
    if (msg.seq !== undefined) {
      if (msg.seq <= this.lastSeq) return; // never twice
      this.lastSeq = msg.seq;
      this.onEvent(msg);
      return;
    }
    if (msg.type === "hello") {
      this.connects += 1;
      this.delay = 500;
      this.onStatus("live");
      this.onHello(msg);
    } else if ((msg.type === "ack" || msg.type === "error") && this.pending.has(msg.id)) {
      const { resolve, reject } = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === "ack") resolve(msg.task);
      else reject(Object.assign(new Error(msg.problem?.detail || msg.problem?.title), msg.problem));
    }
  }

  async dropped(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    for (const { reject } of this.pending.values()) reject(new Error("connection lost"));
    this.pending.clear();
    if (this.closed) return;
    if (code === 4401) {
      try {
        await refresh(); // the access token expired or was revoked: a fresh one, then again
      } catch {
        this.onStatus("closed");
        return;
      }
      this.retry();
    } else if (RETRY_CODES.has(code)) {
      this.retry();
    } else {
      this.onStatus("closed");
    }
  }

  retry() {
    this.onStatus("reconnecting");
    const wait = this.delay * (0.75 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, 10000);
    setTimeout(() => this.open(), wait);
  }

  // An action over the socket; resolves with the task of the `ack`.
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("not connected: try again in a moment"));
    }
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ ...message, id }));
    });
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}
