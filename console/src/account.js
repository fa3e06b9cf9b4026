// The account: profile, API keys (the secret shown once), and for admins the users and roles.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { del, get, post, put, request } from "./api.js";

const html = htm.bind(h);
const ROLES = ["viewer", "member", "admin"];
const PROVIDERS = ["anthropic", "openai"];
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

// Users are listed a page at a time (the API pages them: an install has more than one page)
const USERS_PAGE = 50;

function Users({ me }) {
  const [users, setUsers] = useState([]);
  const [offset, setOffset] = useState(0);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState(null);
  const load = (at = offset) =>
    get(`/users?limit=${USERS_PAGE}&offset=${at}`).then((page) => {
      setUsers(page.items);
      setTotal(page.total);
    }, setError);
  useEffect(() => {
    load(offset);
  }, [offset]);
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
    <p class="pager">
      <span>${total ? `${offset + 1}–${Math.min(offset + USERS_PAGE, total)} of ${total}` : "No users"}</span>
      <button type="button" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - USERS_PAGE))}>Previous users</button>
      <button type="button" disabled=${offset + USERS_PAGE >= total} onClick=${() => setOffset(offset + USERS_PAGE)}>Next users</button>
    </p>
    <${Err} error=${error} />
  </section>`;
}

function Profile() {
  const [profile, setProfile] = useState(null);
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get("/auth/profile").then(setProfile, setError);
  }, []);
  async function rename(e) {
    e.preventDefault();
    setError(null);
    try {
      setProfile(await put("/auth/profile", { displayName: new FormData(e.target).get("displayName") }));
      setNotice("Profile saved.");
    } catch (err) {
      setError(err);
    }
  }
  async function password(e) {
    e.preventDefault();
    const form = new FormData(e.target);
    setError(null);
    try {
      await put("/auth/password", {
        currentPassword: form.get("current"),
        newPassword: form.get("new"),
        revokeApiKeys: form.get("revoke") === "on",
      });
      e.target.reset();
      // every token of the account ended with the change: sign in again
      setNotice("Password changed: sign in again.");
      setTimeout(() => location.reload(), 1500);
    } catch (err) {
      setError(err);
    }
  }
  if (!profile) return html`<${Err} error=${error} />`;
  return html`<section aria-labelledby="profile-title">
    <h2 id="profile-title">Profile</h2>
    <form class="row" onSubmit=${rename} aria-label="Profile">
      <label>Display name <input name="displayName" value=${profile.displayName} maxlength="100" /></label>
      <button type="submit">Save profile</button>
    </form>
    ${profile.provider === "local"
      ? html`<form class="row" onSubmit=${password} aria-label="Change password">
          <label>Current password <input name="current" type="password" autocomplete="current-password" required /></label>
          <label>New password <input name="new" type="password" autocomplete="new-password" minlength="12" required /></label>
          <label class="check"><input name="revoke" type="checkbox" checked /> revoke my API keys</label>
          <button type="submit">Change password</button>
        </form>`
      : null}
    ${notice ? html`<p class="good" role="status">${notice}</p>` : null}
    <${Err} error=${error} />
  </section>`;
}

function ProviderKeys() {
  const [entries, setEntries] = useState([]);
  const [error, setError] = useState(null);
  const load = () => get("/auth/providers").then(setEntries, setError);
  useEffect(() => {
    load();
  }, []);
  async function save(e, provider) {
    e.preventDefault();
    const form = new FormData(e.target);
    const body = {};
    if (form.get("apiKey")) body.apiKey = form.get("apiKey");
    if (form.get("baseUrl")) body.baseUrl = form.get("baseUrl");
    if (!Object.keys(body).length) return;
    setError(null);
    try {
      await put(`/auth/providers/${provider}`, body);
      e.target.reset();
      load();
    } catch (err) {
      setError(err);
    }
  }
  async function remove(provider) {
    try {
      await del(`/auth/providers/${provider}`);
      load();
    } catch (err) {
      setError(err);
    }
  }
  return html`<section aria-labelledby="providers-title">
    <h2 id="providers-title">Model provider keys</h2>
    <p class="muted">Your own keys for the agent's model requests; without one, the service's are used. A key is never shown again.</p>
    ${PROVIDERS.map((provider) => {
      const entry = entries.find((x) => x.provider === provider);
      return html`<form class="row provider" key=${provider} data-provider=${provider} onSubmit=${(e) => save(e, provider)} aria-label=${`${provider} key`}>
        <strong>${provider}</strong>
        <span class="muted">${entry ? `${entry.hasApiKey ? `key ${entry.keyHint || "stored"}` : "no key"}${entry.baseUrl ? ` · ${entry.baseUrl}` : ""}` : "not set"}</span>
        <input name="apiKey" type="password" autocomplete="off" placeholder="API key" aria-label=${`${provider} API key`} />
        <input name="baseUrl" type="url" placeholder="Base URL (optional)" aria-label=${`${provider} base URL`} />
        <button type="submit">Save</button>
        ${entry ? html`<button type="button" class="deny" onClick=${() => remove(provider)}>Remove</button>` : null}
      </form>`;
    })}
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
    <${Profile} />
    ${me.permissions.includes("profile:write") ? html`<${ProviderKeys} />` : null}
    ${me.permissions.includes("apikeys:manage") ? html`<${ApiKeys} permissions=${me.permissions} />` : null}
    ${me.permissions.includes("users:admin") ? html`<${Users} me=${me} />` : null}
  </section>`;
}
