// The page: validates with the wasm build of the schema crate on every keystroke, shows each
// error beside its field, sends only valid events, then watches the processed list.
import init, { validate, eventTypes, schemaVersion } from "./pkg/index.js";

const DEFAULT_API = "http://127.0.0.1:9000/lambda-url/events-api";
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
      headers: { "content-type": "application/json", "idempotency-key": key },
      body,
    });
    const answer = await res.json().catch(() => null);
    const retry = res.status === 503 || res.status === 409;
    if (!retry) unanswered = null;
    const replayed = res.headers.get("idempotent-replayed") === "true" ? " (replayed)" : "";
    const hint = retry ? "\nSend again to retry: the same Idempotency-Key makes it the same event." : "";
    $("result").textContent = `${res.status} ${res.statusText}${replayed}\n${JSON.stringify(answer, null, 2)}${hint}`;
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
    const res = await fetch(`${apiBase()}/events/processed?limit=20`);
    const events = await res.json();
    if (!res.ok) throw new Error(events?.message ?? res.statusText);
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
  $("api").value = params.get("api") ?? localStorage.getItem("api") ?? DEFAULT_API;
  $("api").addEventListener("change", () => {
    localStorage.setItem("api", apiBase());
    refresh();
  });
  for (const id of FIELDS) $(id).addEventListener("input", check);
  $("event-form").addEventListener("submit", submit);
  check();
  refresh();
  document.body.dataset.ready = "true";
}

main();
