// The browser validator cost measured where it is paid: measure.mjs (the same bodies, ajv options
// and timing loop as validator.mjs) run in a page of real headless Chromium, with ajv bundled for
// the browser by esbuild at start (in memory; nothing is written). Prints one tab-separated row
// like validator.mjs.
//
//   node bench/validator-browser.mjs [ITERATIONS]
//
// Needs: web/pkg (make wasm), /usr/bin/chromium (or CHROMIUM), `npm ci` in web/.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import esbuild from "esbuild";
import { launchChromium } from "../chromium.mjs";
import { WASM_BASELINE, describeDisagreement, tsvRow } from "./measure.mjs";

const web = fileURLToPath(new URL("..", import.meta.url));
const repo = join(web, "..");
const iterations = Number(process.argv[2] ?? 2000);

const JS = "text/javascript";

/** Ajv2020 as one ES module for the page, built from web/node_modules like the node run's import. */
async function bundleAjv() {
  try {
    const out = await esbuild.build({
      stdin: { contents: 'export { default } from "ajv/dist/2020.js";', resolveDir: web, loader: "js" },
      bundle: true, format: "esm", platform: "browser", write: false, logLevel: "warning",
    });
    return out.outputFiles[0].contents;
  } finally {
    await esbuild.stop();
  }
}

/** Every path the page may ask for, and nothing else: URL path -> content type and either the
 *  bytes or the file to read on each request. */
function routes(ajvBundle) {
  const js = (path) => ({ type: JS, file: join(web, path) });
  const json = (path) => ({ type: "application/json", file: join(repo, path) });
  return new Map([
    // The empty icon keeps Chromium from asking for /favicon.ico and logging the 404.
    ["/", { type: "text/html", bytes: '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">' +
      "<title>validator bench</title>" }],
    ["/ajv2020.js", { type: JS, bytes: ajvBundle }],
    ["/bench/page.mjs", js("bench/page.mjs")],
    ["/bench/measure.mjs", js("bench/measure.mjs")],
    ["/bench/bodies.mjs", js("bench/bodies.mjs")],
    ["/pkg/index.js", js("pkg/index.js")],
    ["/pkg/event_schema.js", js("pkg/event_schema.js")],
    ["/pkg/event_schema_bg.wasm", { type: "application/wasm", file: join(web, "pkg/event_schema_bg.wasm") }],
    ["/schema.json", json("shared/schema/schemas/event-request.schema.json")],
    ["/vectors.json", json("shared/schema/tests/data/vectors.json")],
  ]);
}

/** A static server on 127.0.0.1 with a free port. COOP and COEP make the page cross-origin
 *  isolated, which gives it the 5 µs clock instead of the 100 µs one. */
async function serve(table) {
  const server = createServer(async (req, res) => {
    const route = table.get(new URL(req.url, "http://x").pathname);
    if (!route) return res.writeHead(404).end();
    try {
      const bytes = route.bytes ?? await readFile(route.file);
      res.writeHead(200, { "content-type": route.type, "cache-control": "no-store",
        "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
      res.end(bytes);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return server;
}

async function main() {
  let server, browser;
  try {
    server = await serve(routes(await bundleAjv()));
    browser = await launchChromium();
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.error(`page error: ${e}`));
    page.on("console", (msg) => msg.type() === "error" && console.error(`page console: ${msg.text()}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const m = await page.evaluate(async (n) => (await import("/bench/page.mjs")).run(n), iterations);
    if (!m.crossOriginIsolated) console.error("warning: page is not cross-origin isolated; its clock is coarse");
    for (const d of m.disagreements) console.error(describeDisagreement(d));
    for (const g of m.groups) {
      console.log(tsvRow(`wasm validate() in Chromium, µs/body, ${g.name} (${g.bodies} bodies)`, g.wasmUs, "µs",
        WASM_BASELINE, g.ajvUs));
    }
  } finally {
    await browser?.close();
    server?.closeAllConnections();
    server?.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
