// The page in real headless Chromium: the wasm verdicts match the shared vectors, invalid input
// is shown and never sent, and a valid event goes through the running local stack.
//
// Needs: web/pkg (make wasm), /usr/bin/chromium, and for the tests against the API, API_BASE
// pointing at a running stack that checks tokens from the issuer at ISSUER
// (scripts/browser-test.sh starts both).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../chromium.mjs";
import { createPageServer } from "../serve.mjs";
import { loadVectors } from "./vectors.mjs";
import { isIJson } from "./schema-verdict.mjs";

const webDir = fileURLToPath(new URL("..", import.meta.url));
const repo = join(webDir, "..");
const outDir = process.env.TEST_OUTPUT ?? join(repo, "test-output");
const apiBase = process.env.API_BASE;
const issuer = process.env.ISSUER;
const CLIENT_ID = "events-web";
const needsStack = { skip: apiBase && issuer ? false : "API_BASE and ISSUER are not set (scripts/browser-test.sh starts the stack)" };

let server, browser, pageUrl;

before(async () => {
  // The page's own server (web/serve.mjs), with this stack's API and issuer as its settings.
  server = createPageServer({
    api: apiBase ?? "http://127.0.0.1:9/unused",
    issuer: issuer ?? "http://127.0.0.1:9/unused",
    clientId: CLIENT_ID,
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  pageUrl = `http://127.0.0.1:${server.address().port}/`;
  browser = await launchChromium();
  await mkdir(outDir, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openPage(url = pageUrl) {
  const page = await browser.newPage();
  const requests = [];
  const errors = [];
  page.on("request", (r) => requests.push(r));
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  page.assertNoErrors = () => assert.deepEqual(errors.map(String), [], "no script errors in the page");
  return { page, requests };
}

/** Signs in through the page, as a person would: the issuer's form, then back with a token. */
async function signIn(page, user) {
  await page.fill("#userId", user);
  await Promise.all([page.waitForURL(/\/authorize\?/), page.click("#sign-in")]);
  await page.fill("#username", user);
  await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/(\?|$)/), page.click("#sign-in")]);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector(`#who[data-user="${user}"]`, { timeout: 30_000 });
}

/** A token for `user` from the issuer's password grant (what curl uses under make dev). */
async function tokenFor(user, scope = "") {
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", username: user, client_id: CLIENT_ID, scope }),
  });
  return (await res.json()).access_token;
}

test("every shared request vector gets the native verdict from the wasm in the page", async () => {
  const vectors = await loadVectors("request");
  assert.ok(vectors.length >= 40);
  const { page } = await openPage();
  const verdicts = await page.evaluate(async (bodies) => {
    const { validate } = await import("./pkg/index.js");
    return bodies.map((b) => validate(b));
  }, vectors.map((v) => v.body));
  for (const [i, v] of vectors.entries()) {
    const got = verdicts[i];
    assert.equal(got.ok, v.ok, v.name);
    assert.deepEqual(got.errors.map((e) => ({ field: e.field, code: e.code })), v.errors, v.name);
  }
  page.assertNoErrors();
  await page.close();
});

test("validateBatch judges each item of a batch as validate judges it alone", async () => {
  // Every request vector that is JSON on its own can be an item of one batch.
  const items = (await loadVectors("request")).map((v) => v.body).filter((body) => {
    try {
      JSON.parse(body);
      return isIJson(body);
    } catch {
      return false;
    }
  });
  assert.ok(items.length >= 20, `${items.length} items`);
  const { page } = await openPage();
  const { batch, alone, refused } = await page.evaluate(async (bodies) => {
    const { validate, validateBatch } = await import("./pkg/index.js");
    return {
      batch: validateBatch(`{"events":[${bodies.join(",")}]}`),
      alone: bodies.map((b) => validate(b)),
      refused: validateBatch('{"events":[]}'),
    };
  }, items);
  assert.equal(batch.ok, true);
  assert.equal(batch.items.length, items.length);
  for (const [i, verdict] of batch.items.entries()) {
    assert.equal(verdict.ok, alone[i].ok, items[i]);
    assert.deepEqual(verdict.errors, JSON.parse(JSON.stringify(alone[i].errors)), items[i]);
  }
  assert.equal(refused.ok, false);
  assert.deepEqual(refused.errors.map((e) => [e.field, e.code]), [["events", "empty"]]);
  page.assertNoErrors();
  await page.close();
});

test("invalid input shows each error beside its field and sends nothing", async () => {
  const { page, requests } = await openPage();
  const before = requests.length;
  await page.fill("#userId", " ");
  await page.waitForSelector("#userId-error [data-code=empty]");
  assert.equal(await page.getAttribute("#userId", "aria-invalid"), "true");
  assert.ok(await page.isDisabled("#submit"));
  const message = await page.textContent("#userId-error");
  assert.match(message, /userId must not be empty or only whitespace/);

  // A duplicate key makes the body unreadable, as on the server: that one problem is shown.
  await page.fill("#payload", '{"sku": "A-1", "sku": "B-2"}');
  await page.waitForSelector("#payload-error [data-code=duplicate_key]");
  assert.ok(await page.isDisabled("#submit"));

  // A readable body reports every problem at once, each beside its field.
  await page.fill("#payload", "[1, 2]");
  await page.waitForSelector("#payload-error [data-code=wrong_type]");
  await page.waitForSelector("#userId-error [data-code=empty]");
  await page.screenshot({ path: join(outDir, "validation-error.png"), fullPage: true });

  // Enter in a field and a forced submit event must not send anything either.
  await page.press("#userId", "Enter");
  await page.evaluate(() => document.getElementById("event-form").requestSubmit());
  await page.waitForTimeout(300);
  const sent = requests.slice(before).filter((r) => r.url().includes("/events/generate"));
  assert.deepEqual(sent.map((r) => r.url()), []);
  const fromApi = requests.slice(before).filter((r) => !r.url().startsWith(pageUrl.split("?")[0]));
  assert.deepEqual(fromApi.map((r) => r.url()), [], "no request leaves the page while invalid");
  page.assertNoErrors();
  await page.close();
});

test("without a token the 401 is shown plainly, and another user's event is refused with 403",
  needsStack,
  async () => {
    const { page } = await openPage();
    await page.waitForSelector("#list-status[data-status='401']", { timeout: 30_000 });
    assert.match(await page.textContent("#list-status"), /Not signed in/);
    await page.fill("#userId", `browser-anonymous-${Date.now()}`);
    await page.selectOption("#eventType", "LOGIN");
    await page.waitForFunction(() => !document.getElementById("submit").disabled);
    await page.click("#submit");
    await page.waitForSelector("#result[data-status='401']", { timeout: 30_000 });
    assert.match(await page.textContent("#result"), /Not signed in, or the token was refused/);

    const user = `browser-who-${Date.now()}`;
    await signIn(page, user);
    await page.waitForSelector("#list-status:not([data-status])", { timeout: 30_000 });
    await page.fill("#userId", `${user}-someone-else`);
    await page.waitForFunction(() => !document.getElementById("submit").disabled);
    await page.click("#submit");
    await page.waitForSelector("#result[data-status='403']", { timeout: 30_000 });
    assert.match(await page.textContent("#result"), /Not allowed for this sign-in/);
    await page.screenshot({ path: join(outDir, "forbidden.png"), fullPage: true });
    page.assertNoErrors();
    await page.close();
  });

test("a signed-in user's event is created and appears in the list once processed",
  needsStack,
  async () => {
    const { page } = await openPage();
    const user = `browser-${Date.now()}`;
    await signIn(page, user);
    await page.fill("#userId", user);
    await page.selectOption("#eventType", "PRODUCT_VIEW");
    await page.fill("#payload", '{"sku": "A-1", "from": "browser test"}');
    await page.waitForFunction(() => !document.getElementById("submit").disabled);
    await page.click("#submit");
    await page.waitForSelector("#result[data-status]", { timeout: 30_000 });
    assert.equal(await page.getAttribute("#result", "data-status"), "201",
      await page.textContent("#result"));
    const created = JSON.parse((await page.textContent("#result")).split("\n").slice(1).join("\n"));
    assert.equal(created.userId, user);
    assert.match(await page.getAttribute("#result", "data-key"), /^[0-9a-f-]{32,36}$/);
    await page.waitForSelector(`#events li[data-event-id="${created.eventId}"]`, { timeout: 60_000 });
    await page.screenshot({ path: join(outDir, "event-processed.png"), fullPage: true });
    page.assertNoErrors();
    await page.close();
  });

test("a signed-in user erases its own events from the page, and they leave the list",
  needsStack,
  async () => {
    const { page } = await openPage();
    const user = `eraser-${Date.now()}`;
    await signIn(page, user);
    await page.fill("#userId", user);
    await page.waitForFunction(() => !document.getElementById("submit").disabled);
    await page.click("#submit");
    await page.waitForSelector("#result[data-status]", { timeout: 30_000 });
    const created = JSON.parse((await page.textContent("#result")).split("\n").slice(1).join("\n"));
    await page.waitForSelector(`#events li[data-event-id="${created.eventId}"]`, { timeout: 60_000 });
    page.once("dialog", (d) => d.accept());
    await page.click("#erase");
    await page.waitForSelector("#erase-status[data-status]", { timeout: 30_000 });
    assert.equal(await page.getAttribute("#erase-status", "data-status"), "200",
      await page.textContent("#erase-status"));
    await page.waitForFunction((id) => !document.querySelector(`#events li[data-event-id="${id}"]`),
      created.eventId, { timeout: 10_000 });
    // The list, asked again directly: nothing of the user is left.
    const token = await tokenFor(user);
    const res = await fetch(`${apiBase}/events/processed?userId=${user}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(await res.json(), []);
    page.assertNoErrors();
    await page.close();
  });

test("a submit that got a 503 is retried with the same Idempotency-Key and stored once",
  needsStack,
  async () => {
    const { page } = await openPage();
    const user = `browser-retry-${Date.now()}`;
    await signIn(page, user);
    // The first attempt reaches the API (which publishes the event) but its answer is replaced
    // by a 503, as when a response is lost; every later attempt goes through untouched.
    const keys = [];
    let attempts = 0;
    await page.route("**/events/generate", async (route) => {
      keys.push(route.request().headers()["idempotency-key"]);
      attempts += 1;
      const response = await route.fetch();
      if (attempts === 1) {
        await route.fulfill({ status: 503, contentType: "application/json",
          body: JSON.stringify({ error: "kafka_unavailable", message: "lost on the way back" }) });
      } else {
        await route.fulfill({ response });
      }
    });
    await page.fill("#userId", user);
    await page.selectOption("#eventType", "LOGIN");
    await page.fill("#payload", "");
    await page.waitForFunction(() => !document.getElementById("submit").disabled);
    await page.click("#submit");
    await page.waitForSelector("#result[data-status='503']", { timeout: 30_000 });
    await page.click("#submit");
    await page.waitForSelector("#result[data-status='201']", { timeout: 30_000 });
    assert.equal(keys.length, 2);
    assert.ok(keys[0], "the page sends a key");
    assert.equal(keys[1], keys[0], "the retry reuses it");
    assert.match(await page.textContent("#result"), /replayed/);
    const created = JSON.parse((await page.textContent("#result")).split("\n").slice(1).join("\n"));
    await page.waitForSelector(`#events li[data-event-id="${created.eventId}"]`, { timeout: 60_000 });
    const res = await fetch(`${apiBase}/events/processed?userId=${encodeURIComponent(user)}`,
      { headers: { authorization: `Bearer ${await tokenFor(user)}` } });
    const stored = await res.json();
    assert.equal(stored.length, 1, JSON.stringify(stored));
    // A new body starts over with a new key.
    await page.fill("#payload", '{"n": 2}');
    await page.waitForFunction(() => !document.getElementById("submit").disabled);
    await page.click("#submit");
    await page.waitForSelector("#result[data-status='201']", { timeout: 30_000 });
    assert.equal(keys.length, 3);
    assert.notEqual(keys[2], keys[0]);
    page.assertNoErrors();
    await page.close();
  });

test("events sent while offline are queued and go as one batch when the browser is back",
  needsStack,
  async () => {
    const { page, requests } = await openPage();
    const user = `browser-offline-${Date.now()}`;
    await signIn(page, user);
    await page.context().setOffline(true);
    const before = requests.length;
    for (const type of ["LOGIN", "PRODUCT_VIEW", "LOGOUT"]) {
      await page.fill("#userId", user);
      await page.selectOption("#eventType", type);
      await page.fill("#payload", type === "PRODUCT_VIEW" ? '{"sku": "A-1"}' : "");
      await page.waitForFunction(() => !document.getElementById("submit").disabled);
      await page.click("#submit");
      await page.waitForSelector("#result[data-status='queued']");
    }
    assert.equal(await page.getAttribute("#queue", "data-count"), "3");
    assert.equal(requests.length, before, "nothing was sent while offline");
    const batch = page.waitForRequest((r) => r.url().endsWith("/events/batch"));
    await page.context().setOffline(false);
    const sent = await batch;
    assert.equal(JSON.parse(sent.postData()).events.length, 3, "one request for the three");
    assert.ok(sent.headers()["idempotency-key"], "the batch has a key");
    await page.waitForSelector("#result[data-status='batch']", { timeout: 30_000 });
    assert.equal(await page.getAttribute("#queue", "data-count"), "0");
    assert.equal(requests.filter((r) => r.url().endsWith("/events/generate")).length, 0);
    const deadline = Date.now() + 60_000;
    let stored = [];
    while (Date.now() < deadline) {
      const res = await fetch(`${apiBase}/events/processed?userId=${encodeURIComponent(user)}`,
        { headers: { authorization: `Bearer ${await tokenFor(user)}` } });
      stored = await res.json();
      if (stored.length >= 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(stored.map((e) => e.eventType).sort(), ["LOGIN", "LOGOUT", "PRODUCT_VIEW"]);
    await page.screenshot({ path: join(outDir, "offline-batch.png"), fullPage: true });
    page.assertNoErrors();
    await page.close();
  });

test("a link cannot point the page, or its token, at another origin",
  needsStack,
  async () => {
    // Another origin that records whatever reaches it.
    const seen = [];
    const elsewhere = createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization ?? null });
      res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
      res.end("[]");
    });
    await new Promise((r) => elsewhere.listen(0, "127.0.0.1", r));
    const there = `http://127.0.0.1:${elsewhere.address().port}`;
    try {
      const { page } = await openPage();
      const user = `browser-link-${Date.now()}`;
      await signIn(page, user);
      // The crafted link: the page's own address with another API and issuer.
      const crafted = `${pageUrl}?${new URLSearchParams({ api: there, issuer: there, client_id: "x" })}`;
      await page.goto(crafted);
      await page.waitForSelector("body[data-ready=true]");
      assert.equal(await page.inputValue("#api"), apiBase, "the API is the configured one");
      assert.equal(await page.inputValue("#issuer"), issuer);
      await page.fill("#userId", user);
      await page.selectOption("#eventType", "LOGIN");
      await page.waitForFunction(() => !document.getElementById("submit").disabled);
      await page.click("#submit");
      await page.waitForSelector("#result[data-status='201']", { timeout: 30_000 });
      // Even a script on the page cannot reach another origin: the policy names only these.
      const blocked = await page.evaluate(async (url) => {
        try {
          await fetch(url, { headers: { authorization: "Bearer stolen" } });
          return false;
        } catch {
          return true;
        }
      }, `${there}/steal`);
      assert.ok(blocked, "the Content-Security-Policy let a fetch to another origin through");
      assert.deepEqual(seen, [], "nothing reached the other origin");
      const stored = await page.evaluate(() => Object.keys(localStorage));
      assert.deepEqual(stored, [], "no setting from the link was kept");
      page.assertNoErrors();
      await page.close();
    } finally {
      elsewhere.close();
    }
  });
