// The page's server: web/ as static files, its settings in /config.json, and a
// Content-Security-Policy that lets the page talk to its own origin, the API and the issuer, and
// nothing else. `make dev` runs it; the browser tests import it, so they test this server.
//
//   node web/serve.mjs --port 8080 --config web/config.json
//
// The settings (api, issuer, clientId, and tokenOrigin when the issuer's token endpoint is on
// another origin, as Amazon Cognito's hosted domain is) come from the config file only: never
// from the page's URL, so that no link can point the page, and the token it holds, elsewhere.
// A deployed page is served the same way: the config file beside it, this policy as a header.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = fileURLToPath(new URL(".", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".json": "application/json", ".ts": "text/plain",
  ".css": "text/css", ".png": "image/png",
};

/** The origin of a URL, or throws naming the setting. */
function originOf(name, value) {
  try {
    return new URL(value).origin;
  } catch {
    throw new Error(`config: ${name} must be a URL, got ${JSON.stringify(value)}`);
  }
}

/** The policy for these settings: the page's own origin, the API, the issuer (and its token
 *  endpoint's origin), nothing else; WebAssembly compiled, no inline script. */
export function contentSecurityPolicy(config) {
  const connect = new Set(["'self'", originOf("api", config.api), originOf("issuer", config.issuer)]);
  if (config.tokenOrigin) connect.add(originOf("tokenOrigin", config.tokenOrigin));
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    `connect-src ${[...connect].join(" ")}`,
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** An HTTP server for web/ with `config` (checked here) as /config.json. */
export function createPageServer(config) {
  const policy = contentSecurityPolicy(config);
  const settings = JSON.stringify({
    api: config.api, issuer: config.issuer, clientId: config.clientId,
    ...(config.tokenOrigin ? { tokenOrigin: config.tokenOrigin } : {}),
  });
  return createServer(async (req, res) => {
    const headers = {
      "content-security-policy": policy,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
    };
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path === "/config.json") {
      res.writeHead(200, { ...headers, "content-type": "application/json" });
      return res.end(settings);
    }
    const file = join(webDir, path === sep || path === "/" ? "index.html" : path);
    if (!file.startsWith(webDir) || file.includes(`${sep}node_modules${sep}`)) {
      return res.writeHead(404, headers).end();
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404, headers).end();
    }
  });
}

async function main() {
  const args = process.argv.slice(2);
  const arg = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const config = JSON.parse(await readFile(arg("--config", join(webDir, "config.json")), "utf8"));
  const port = Number(arg("--port", "8080"));
  const server = createPageServer(config);
  server.listen(port, "127.0.0.1", () => {
    console.log(`page http://127.0.0.1:${server.address().port}/`);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(`serve: ${e.message}`);
    process.exit(1);
  });
}
