// The REST side: credentials and requests. The access token lives in memory only; the refresh
// token in sessionStorage (this tab, until it closes), so a reload keeps the sign-in without a
// long-lived secret in localStorage. Why: docs/console.md, "Tokens".
const BASE = "/api/v1";
const REFRESH_KEY = "roo.console.refresh";

let access = null;
let refreshing = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function setSignedOutHandler(fn) {
  onSignedOut = fn;
}

export function hasAccess() {
  return access !== null;
}

export function hasSavedSignIn() {
  return sessionStorage.getItem(REFRESH_KEY) !== null;
}

function keep(pair) {
  access = pair.token;
  sessionStorage.setItem(REFRESH_KEY, pair.refreshToken);
  return pair.user;
}

function forget() {
  access = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return { title: res.statusText };
  }
}

// A token pair handed over in the URL fragment by the OAuth callback (ROO_OAUTH_FRONTEND_REDIRECT
// pointing here): taken, then removed from the address bar and the history.
export function adoptFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  const refreshToken = params.get("refreshToken");
  if (!token || !refreshToken) return false;
  access = token;
  sessionStorage.setItem(REFRESH_KEY, refreshToken);
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}

export async function signIn(email, password) {
  const res = await fetch(`${BASE}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return keep(await res.json());
}

// One refresh at a time: concurrent 401s share it (a refresh token is for one use).
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = sessionStorage.getItem(REFRESH_KEY);
      if (!token) throw new ApiError(401, { title: "Not signed in" });
      const res = await fetch(`${BASE}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken: token }),
      });
      if (!res.ok) {
        forget();
        throw new ApiError(res.status, await problemOf(res));
      }
      return keep(await res.json());
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function signOut() {
  try {
    if (access) await request("POST", "/auth/logout", undefined, { retry: false });
  } catch {
    // signed out locally whatever the server said
  } finally {
    forget();
  }
}

// A request to the API; JSON in and out unless `raw`. A 401 refreshes once and retries.
export async function request(method, path, body, options = {}) {
  const { raw = false, headers = {}, retry = true } = options;
  const init = { method, headers: { ...headers } };
  if (access) init.headers.Authorization = `Bearer ${access}`;
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Blob || body instanceof ArrayBuffer) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  const res = await fetch(BASE + path, init);
  if (res.status === 401 && retry && hasSavedSignIn()) {
    try {
      await refresh();
    } catch (err) {
      onSignedOut();
      throw err;
    }
    return request(method, path, body, { ...options, retry: false });
  }
  if (res.status === 401) {
    forget();
    onSignedOut();
  }
  if (!res.ok && res.status !== 304) throw new ApiError(res.status, await problemOf(res));
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const put = (path, body) => request("PUT", path, body);
export const del = (path) => request("DELETE", path);

// A body sent with its upload's progress (fetch cannot report it): `onProgress(sent, total)`.
// A 401 refreshes once and sends again, as `request` does.
export function upload(path, body, contentType, onProgress, retry = true) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + path);
    if (access) xhr.setRequestHeader("Authorization", `Bearer ${access}`);
    xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.size);
    xhr.onerror = () => reject(new ApiError(0, { title: "The upload failed (network)" }));
    xhr.onload = () => {
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        answer = { title: xhr.statusText };
      }
      if (xhr.status === 401 && retry && hasSavedSignIn()) {
        refresh().then(() => upload(path, body, contentType, onProgress, false).then(resolve, reject), reject);
      } else if (xhr.status >= 200 && xhr.status < 300) {
        resolve(answer);
      } else {
        reject(new ApiError(xhr.status, answer));
      }
    };
    xhr.send(body);
  });
}
