// The page: validates with the wasm build of the schema crate on every keystroke, shows each
// error beside its field, sends only valid events, then watches the processed list. It signs in
// the standard way a browser app does with an OpenID Connect provider (authorization code with
// PKCE; `make dev` starts a local issuer, and Amazon Cognito's hosted sign-in works the same),
// or takes a pasted token, and sends it as `Authorization: Bearer`.
import init, { validate, eventTypes, schemaVersion } from "./pkg/index.js";

const DEFAULT_API = "http://127.0.0.1:9000/lambda-url/events-api";
const DEFAULT_ISSUER = "http://127.0.0.1:9400";
const DEFAULT_CLIENT_ID = "events-web";
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

function apiBase() {
  return $("api").value.trim().replace(/\/+$/, "");
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
  const scope = claims?.scope ? `, scope ${claims.scope}` : "";
  who.textContent = `Signed in as ${user}${until}${scope}.`;
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
  const issuer = $("issuer").value.trim().replace(/\/+$/, "");
  const clientId = $("client-id").value.trim();
  localStorage.setItem("issuer", issuer);
  localStorage.setItem("clientId", clientId);
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
    const scope = ["openid", ...($("read-all").checked ? ["events:read:all"] : [])].join(" ");
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

async function submit(event) {
  event.preventDefault();
  check();
  if (!lastVerdict.ok) return;
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

async function main() {
  await init();
  $("schema-version").textContent = schemaVersion();
  $("eventType").replaceChildren(...eventTypes().map((t) => new Option(t, t)));
  const params = new URLSearchParams(location.search);
  // Settings given in the URL are remembered: the issuer sends the browser back without them.
  for (const [param, key] of [["api", "api"], ["issuer", "issuer"], ["client_id", "clientId"]]) {
    if (params.has(param)) localStorage.setItem(key, params.get(param));
  }
  $("api").value = localStorage.getItem("api") ?? DEFAULT_API;
  $("issuer").value = localStorage.getItem("issuer") ?? DEFAULT_ISSUER;
  $("client-id").value = localStorage.getItem("clientId") ?? DEFAULT_CLIENT_ID;
  $("api").addEventListener("change", () => {
    localStorage.setItem("api", apiBase());
    refresh();
  });
  $("sign-in").addEventListener("click", signIn);
  $("sign-out").addEventListener("click", () => setToken(null));
  $("use-token").addEventListener("click", () => setToken($("token").value.trim()));
  if (params.has("code") || params.has("error")) await finishSignIn(params);
  showWho();
  for (const id of FIELDS) $(id).addEventListener("input", check);
  $("event-form").addEventListener("submit", submit);
  check();
  refresh();
  document.body.dataset.ready = "true";
}

main();
