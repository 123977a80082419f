// The page: validates with the wasm build of the schema crate on every keystroke, shows each
// error beside its field, sends only valid events, then watches the processed list. It signs in
// the standard way a browser app does with an OpenID Connect provider (authorization code with
// PKCE; `make dev` starts a local issuer, and Amazon Cognito's hosted sign-in works the same),
// or takes a pasted token, and sends it as `Authorization: Bearer`.
//
// Where the API and the issuer are comes from config.json, served beside the page (web/serve.mjs
// writes it and a Content-Security-Policy naming exactly those origins), never from the page's
// URL or from storage a link could have written: a crafted link cannot send the token, or the
// user's sign-in, anywhere else.
//
// Offline, a valid event is queued (in this tab's storage) instead of sent; when the browser is
// back online the queue goes as one POST /events/batch, with an Idempotency-Key kept until the
// batch has a definite answer, and only the items the broker did not take (503) stay queued.
import init, { validate, validateBatch, eventTypes, schemaVersion } from "./pkg/index.js";

const FIELDS = ["userId", "eventType", "payload"];
const $ = (id) => document.getElementById(id);

let lastVerdict = { ok: false, errors: [] };
let watching = null;

/** The request body exactly as it will be sent: the payload text is embedded as typed, so that
 *  malformed JSON or duplicate keys are judged the way the server judges them. */
export function bodyText() {
  const payload = $("payload").value.trim();
  return "{" +
    `"userId":${JSON.stringify($("userId").value)},` +
    `"eventType":${JSON.stringify($("eventType").value)}` +
    (payload ? `,"payload":${payload}` : "") +
    "}";
}

let settings = null; // { api, issuer, clientId } from config.json

function apiBase() {
  return settings.api.replace(/\/+$/, "");
}

// The access token, kept for this tab only.
let token = sessionStorage.getItem("token");

function authHeaders() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** What a token says about itself, for display only: the API is what verifies it. */
function claimsOf(t) {
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

function showWho() {
  const claims = token ? claimsOf(token) : null;
  const who = $("who");
  who.classList.remove("denied");
  if (!token) {
    who.textContent = "Not signed in: requests carry no token.";
    delete who.dataset.user;
    return;
  }
  const user = claims?.sub ?? "?";
  const until = claims?.exp ? ` until ${new Date(claims.exp * 1000).toLocaleTimeString()}` : "";
  const groups = claims?.["cognito:groups"]?.length ? `, groups ${claims["cognito:groups"].join(" ")}` : "";
  who.textContent = `Signed in as ${user}${until}${groups}.`;
  who.dataset.user = user;
  if (!$("userId").value) {
    $("userId").value = user;
    check();
  }
}

function setToken(t) {
  token = t || null;
  if (token) sessionStorage.setItem("token", token);
  else sessionStorage.removeItem("token");
  showWho();
  refresh();
}

/** A 401 or 403 said plainly: who the API thinks is calling, and what to do. */
function refusal(status, answer) {
  const message = answer?.message ?? "";
  if (status === 401) return `Not signed in, or the token was refused: ${message} Sign in and send again.`;
  if (status === 403) return `Not allowed for this sign-in: ${message}`;
  return null;
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Sends the browser to the issuer's sign-in, with a PKCE challenge (RFC 7636). */
async function signIn() {
  const issuer = settings.issuer.replace(/\/+$/, "");
  const clientId = settings.clientId;
  try {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    const discovery = await res.json();
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
    const redirect = location.origin + location.pathname;
    sessionStorage.setItem("signIn", JSON.stringify({
      verifier, state, redirect, clientId, tokenEndpoint: discovery.token_endpoint,
    }));
    // Rights come with the user (its groups), not with what the page asks for.
    const scope = "openid";
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code", client_id: clientId, redirect_uri: redirect, scope, state,
      code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: "S256",
      login_hint: $("userId").value,
    }).toString();
    location.assign(url);
  } catch (err) {
    $("who").textContent = `Cannot reach the issuer at ${issuer}: ${err.message ?? err}`;
    $("who").classList.add("denied");
  }
}

/** Back from the issuer: exchanges the code for a token. */
async function finishSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem("signIn") ?? "null");
  sessionStorage.removeItem("signIn");
  history.replaceState(null, "", location.pathname);
  const failed = (why) => {
    $("who").textContent = `Sign-in failed: ${why}`;
    $("who").classList.add("denied");
  };
  if (params.has("error")) return failed(params.get("error_description") ?? params.get("error"));
  if (!pending || params.get("state") !== pending.state) return failed("the answer does not match the request");
  const res = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: pending.redirect,
      client_id: pending.clientId, code_verifier: pending.verifier,
    }),
  });
  const answer = await res.json().catch(() => null);
  if (!res.ok || !answer?.access_token) return failed(answer?.error_description ?? `${res.status} ${res.statusText}`);
  setToken(answer.access_token);
}

function render(verdict) {
  lastVerdict = verdict;
  const byField = new Map();
  for (const e of verdict.errors) {
    // A problem with the document as a whole can only come from the payload text.
    const field = FIELDS.includes(e.field) ? e.field : e.field === "body" ? "payload" : "body";
    if (!byField.has(field)) byField.set(field, []);
    byField.get(field).push(e);
  }
  for (const field of [...FIELDS, "body"]) {
    const errors = byField.get(field) ?? [];
    const box = $(`${field}-error`);
    box.replaceChildren(...errors.map((e) => {
      const line = document.createElement("span");
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = e.code;
      line.append(code, " ", e.message);
      line.dataset.code = e.code;
      return line;
    }));
    const input = $(field);
    if (input) input.setAttribute("aria-invalid", errors.length ? "true" : "false");
  }
  $("submit").disabled = !verdict.ok;
}

function check() {
  render(validate(bodyText()));
}

// The Idempotency-Key of a submit that got no definite answer (a 503, a 409, a lost
// connection): sending the same body again reuses it, so the retry cannot create a second event.
// A new body, or a definite answer, starts over with a new key.
let unanswered = null; // { body, key }

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Events queued while offline: their bodies, and the key of the batch that carries them while it
// has no definite answer.
const QUEUE = "queue";

function queued() {
  return JSON.parse(sessionStorage.getItem(QUEUE) ?? "null") ?? { bodies: [], key: null };
}

function saveQueue(queue) {
  sessionStorage.setItem(QUEUE, JSON.stringify(queue));
  showQueue();
}

function showQueue() {
  const n = queued().bodies.length;
  $("queue").textContent = n ? `Offline: ${n} event${n === 1 ? "" : "s"} queued, sent together when the connection is back.` : "";
  $("queue").dataset.count = String(n);
}

function enqueue(body) {
  const queue = queued();
  queue.bodies.push(body);
  // A batch with another body needs its own key.
  queue.key = null;
  saveQueue(queue);
  $("result").textContent = "offline: queued";
  $("result").dataset.status = "queued";
}

let flushing = false;

/** Sends the queue as one batch; keeps only what the broker did not take. */
async function flush() {
  const queue = queued();
  if (flushing || !queue.bodies.length || !navigator.onLine) return;
  flushing = true;
  const body = `{"events":[${queue.bodies.join(",")}]}`;
  const verdict = validateBatch(body);
  queue.key ??= newKey();
  saveQueue(queue);
  try {
    if (!verdict.ok) throw new Error(verdict.errors.map((e) => e.message).join("; "));
    const res = await fetch(`${apiBase()}/events/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": queue.key, ...authHeaders() },
      body,
    });
    const answer = await res.json().catch(() => null);
    if (!res.ok || !Array.isArray(answer?.results)) {
      $("result").textContent = `${res.status} ${res.statusText}: the queued events stay queued\n${JSON.stringify(answer, null, 2)}`;
      $("result").dataset.status = String(res.status);
      return;
    }
    const again = queue.bodies.filter((_, i) => answer.results[i]?.status === 503);
    saveQueue({ bodies: again, key: null });
    const accepted = answer.results.filter((r) => r.status === 201);
    $("result").textContent = `batch: ${accepted.length} of ${answer.results.length} accepted` +
      `${again.length ? `, ${again.length} still queued` : ""}\n${JSON.stringify(answer, null, 2)}`;
    $("result").dataset.status = "batch";
    if (accepted.length) watch(accepted[accepted.length - 1].eventId);
  } catch (err) {
    $("result").textContent = `the queued events stay queued: ${err.message ?? err}`;
  } finally {
    flushing = false;
  }
}

async function submit(event) {
  event.preventDefault();
  check();
  if (!lastVerdict.ok) return;
  if (!navigator.onLine) {
    enqueue(bodyText());
    return;
  }
  $("submit").disabled = true;
  $("result").textContent = "sending…";
  delete $("result").dataset.status;
  const body = bodyText();
  const key = unanswered?.body === body ? unanswered.key : newKey();
  unanswered = { body, key };
  $("result").dataset.key = key;
  try {
    const res = await fetch(`${apiBase()}/events/generate`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key, ...authHeaders() },
      body,
    });
    const answer = await res.json().catch(() => null);
    const retry = res.status === 503 || res.status === 409;
    if (!retry) unanswered = null;
    const replayed = res.headers.get("idempotent-replayed") === "true" ? " (replayed)" : "";
    const hint = retry ? "\nSend again to retry: the same Idempotency-Key makes it the same event." : "";
    const plainly = refusal(res.status, answer);
    const said = plainly ? `\n${plainly}` : "";
    $("result").textContent = `${res.status} ${res.statusText}${replayed}\n${JSON.stringify(answer, null, 2)}${hint}${said}`;
    $("result").dataset.status = String(res.status);
    if (res.status === 201 && answer?.eventId) watch(answer.eventId);
  } catch (err) {
    $("result").textContent = `request failed: ${err}\nSend again to retry: the same Idempotency-Key makes it the same event.`;
    $("result").dataset.status = "error";
  } finally {
    check();
  }
}

async function refresh(highlight) {
  try {
    const res = await fetch(`${apiBase()}/events/processed?limit=20`, { headers: authHeaders() });
    const events = await res.json();
    const plainly = refusal(res.status, events);
    if (plainly) {
      $("events").replaceChildren();
      $("list-status").textContent = `${res.status}: ${plainly}`;
      $("list-status").dataset.status = String(res.status);
      $("list-status").className = "denied";
      return false;
    }
    if (!res.ok) throw new Error(events?.message ?? res.statusText);
    $("list-status").className = "muted";
    delete $("list-status").dataset.status;
    $("events").replaceChildren(...events.map((e) => {
      const li = document.createElement("li");
      li.dataset.eventId = e.eventId;
      if (e.eventId === highlight) li.className = "new";
      li.textContent = `${e.timestamp}  ${e.eventType}  ${e.userId}` +
        (e.payload ? `  ${JSON.stringify(e.payload)}` : "");
      return li;
    }));
    $("list-status").textContent = `${events.length} most recent, newest first`;
    return events.some((e) => e.eventId === highlight);
  } catch (err) {
    $("list-status").textContent = `cannot list events: ${err.message ?? err}`;
    return false;
  }
}

/** Refreshes the list every second until `eventId` appears (the processor ran), up to a minute. */
function watch(eventId) {
  clearInterval(watching);
  const started = Date.now();
  $("list-status").textContent = "waiting for the processor…";
  watching = setInterval(async () => {
    const seen = await refresh(eventId);
    if (seen || Date.now() - started > 60_000) clearInterval(watching);
  }, 1000);
}

/**
 * Erases the signed-in user's events (DELETE /users/{userId}/events, GDPR art. 17): none at or
 * before the answer is listed again, even those still on their way. Asked once more while the
 * API answers 202 (copies left to delete).
 */
async function erase() {
  const user = $("who").dataset.user || $("userId").value.trim();
  if (!user || !confirm(`Erase every event of ${user} sent until now?`)) return;
  const status = $("erase-status");
  try {
    for (;;) {
      const res = await fetch(`${apiBase()}/users/${encodeURIComponent(user)}/events`, {
        method: "DELETE",
        headers: authHeaders(),
      });
      const answer = await res.json();
      status.dataset.status = String(res.status);
      if (res.status === 202) {
        status.textContent = `erasing ${user}'s events: ${answer.deleted} deleted so far…`;
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("retry-after") ?? 1)));
        continue;
      }
      status.textContent = res.ok
        ? `${user}'s events through ${answer.erasedThrough} are erased (${answer.deleted} deleted).`
        : `${res.status}: ${refusal(res.status, answer) ?? answer.message}`;
      break;
    }
  } catch (err) {
    status.textContent = `cannot erase: ${err.message ?? err}`;
  }
  refresh();
}

/** The page's settings, from config.json beside it. */
async function loadSettings() {
  const res = await fetch("config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: ${res.status} ${res.statusText}`);
  const config = await res.json();
  for (const name of ["api", "issuer", "clientId"]) {
    if (typeof config[name] !== "string" || !config[name]) throw new Error(`config.json lacks ${name}`);
  }
  return config;
}

async function main() {
  await init();
  $("schema-version").textContent = schemaVersion();
  $("eventType").replaceChildren(...eventTypes().map((t) => new Option(t, t)));
  const params = new URLSearchParams(location.search);
  settings = await loadSettings();
  $("api").value = settings.api;
  $("issuer").value = settings.issuer;
  $("client-id").value = settings.clientId;
  $("sign-in").addEventListener("click", signIn);
  $("sign-out").addEventListener("click", () => setToken(null));
  $("use-token").addEventListener("click", () => setToken($("token").value.trim()));
  if (params.has("code") || params.has("error")) await finishSignIn(params);
  showWho();
  for (const id of FIELDS) $(id).addEventListener("input", check);
  $("event-form").addEventListener("submit", submit);
  $("erase").addEventListener("click", erase);
  window.addEventListener("online", flush);
  showQueue();
  flush();
  check();
  refresh();
  document.body.dataset.ready = "true";
}

main();
