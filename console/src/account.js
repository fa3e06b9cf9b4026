// The account: profile, API keys (the secret shown once), and for admins the users and roles.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { del, get, post, request } from "./api.js";

const html = htm.bind(h);
const ROLES = ["viewer", "member", "admin"];
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

function Err({ error }) {
  return error ? html`<p class="error" role="alert">${error.message}</p>` : null;
}

function ApiKeys({ permissions }) {
  const [keys, setKeys] = useState([]);
  const [created, setCreated] = useState(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState(null);
  const load = () => get("/auth/api-keys").then(setKeys, setError);
  useEffect(() => {
    load();
  }, []);
  async function create(e) {
    e.preventDefault();
    const form = new FormData(e.target);
    const body = { name: form.get("name"), scopes: form.getAll("scope") };
    if (form.get("expires")) body.expiresAt = new Date(`${form.get("expires")}T23:59:59Z`).toISOString();
    setError(null);
    try {
      setCreated(await post("/auth/api-keys", body));
      setCopied(false);
      e.target.reset();
      load();
    } catch (err) {
      setError(err);
    }
  }
  async function revoke(key) {
    if (!confirm(`Revoke the key "${key.name}"? Programs using it stop working.`)) return;
    try {
      await del(`/auth/api-keys/${key.id}`);
      load();
    } catch (err) {
      setError(err);
    }
  }
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      setCopied(false); // no clipboard permission: the key stays selectable
    }
  }
  return html`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    ${created
      ? html`<div class="created-key" role="status">
          <p>The key <strong>${created.name}</strong>: copy it now, it is not shown again.</p>
          <div class="row"><code class="secret" data-secret>${created.key}</code>
            <button type="button" onClick=${copy}>${copied ? "Copied" : "Copy"}</button>
            <button type="button" onClick=${() => setCreated(null)}>Done</button></div>
        </div>`
      : null}
    <table class="table">
      <thead><tr><th>Name</th><th>Key</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr></thead>
      <tbody>
        ${keys.map(
          (k) => html`<tr key=${k.id} data-key=${k.name} class=${k.revokedAt ? "revoked" : ""}>
            <td>${k.name}</td><td><code>${k.prefix}…</code></td><td>${k.scopes.join(", ")}</td>
            <td>${when(k.createdAt)}</td><td>${when(k.lastUsedAt)}</td><td>${when(k.expiresAt)}</td>
            <td>${k.revokedAt ? html`<span class="muted">revoked</span>` : html`<button class="deny" onClick=${() => revoke(k)} aria-label=${`Revoke ${k.name}`}>Revoke</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <form class="newkey" onSubmit=${create} aria-label="Create an API key">
      <label>Name <input name="name" required maxlength="100" /></label>
      <fieldset><legend>Scopes</legend>
        ${permissions.map((p) => html`<label class="check"><input type="checkbox" name="scope" value=${p} checked=${p.endsWith(":read")} /> ${p}</label>`)}
      </fieldset>
      <label>Expires (optional) <input name="expires" type="date" /></label>
      <button type="submit">Create key</button>
    </form>
    <${Err} error=${error} />
  </section>`;
}

function Users({ me }) {
  const [users, setUsers] = useState([]);
  const [error, setError] = useState(null);
  const load = () => get("/users?limit=200").then((page) => setUsers(page.items), setError);
  useEffect(() => {
    load();
  }, []);
  async function change(user, body) {
    setError(null);
    try {
      await request("PATCH", `/users/${user.id}`, body);
    } catch (err) {
      setError(err);
    }
    load();
  }
  return html`<section aria-labelledby="users-title">
    <h2 id="users-title">Users</h2>
    <table class="table">
      <thead><tr><th>Email</th><th>Role</th><th>Disabled</th><th>Last sign-in</th></tr></thead>
      <tbody>
        ${users.map(
          (u) => html`<tr key=${u.id} data-user-row=${u.email}>
            <td>${u.email}</td>
            <td><select aria-label=${`Role of ${u.email}`} value=${ROLES.filter((r) => u.roles.includes(r)).pop() || "viewer"}
                 disabled=${u.id === me.userId} onChange=${(e) => change(u, { roles: [e.target.value] })}>
              ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></td>
            <td><input type="checkbox" aria-label=${`Disable ${u.email}`} checked=${u.disabled} disabled=${u.id === me.userId}
                 onChange=${(e) => change(u, { disabled: e.target.checked })} /></td>
            <td>${when(u.lastLoginAt)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <${Err} error=${error} />
  </section>`;
}

export function AccountPanel() {
  const [me, setMe] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get("/auth/whoami").then(setMe, setError);
  }, []);
  if (!me) return html`<section class="session"><${Err} error=${error} /></section>`;
  return html`<section class="session account">
    <h1>Account</h1>
    <p><strong>${me.email}</strong> <span class="muted">· ${me.roles.join(", ")}</span></p>
    ${me.permissions.includes("apikeys:manage") ? html`<${ApiKeys} permissions=${me.permissions} />` : null}
    ${me.permissions.includes("users:admin") ? html`<${Users} me=${me} />` : null}
  </section>`;
}
