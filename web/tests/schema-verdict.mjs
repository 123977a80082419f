// What a client that validates with the published JSON Schema decides: ajv (draft 2020-12) with
// the schema's extension keywords, which carry the rules JSON Schema cannot state (see
// `event_schema::json_schema`): `x-maxBytes`, `x-maxDepth`, and `x-ijson`, the I-JSON
// restrictions of RFC 7493 the server applies to the body text (no duplicate names, no lone
// surrogates, every number within the range of a double).
import Ajv2020 from "ajv/dist/2020.js";

const utf8 = new TextEncoder();

function depth(value) {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce((max, v) => Math.max(max, depth(v)), 0);
}

/** RFC 7493 §2 on JSON text already known to parse: names unique per object, strings and names
 * well-formed Unicode, numbers finite as doubles. */
export function isIJson(text) {
  const tokens = text.matchAll(/"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|[{}[\]:,]|true|false|null/g);
  const stack = [];
  let previous = null;
  for (const [token] of tokens) {
    if (token === "{") stack.push(new Set());
    else if (token === "[") stack.push(null);
    else if (token === "}" || token === "]") stack.pop();
    else if (token.startsWith('"')) {
      const s = JSON.parse(token);
      if (!s.isWellFormed()) return false;
      const keys = stack.at(-1);
      if (keys && (previous === "{" || previous === ",")) {
        if (keys.has(s)) return false;
        keys.add(s);
      }
    } else if (/^-?\d/.test(token) && !Number.isFinite(Number(token))) return false;
    previous = token;
  }
  return true;
}

/** A validator for `schema`: `(text) => boolean`, the verdict on a body given as text. */
export function schemaValidator(schema) {
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  ajv.addFormat("uuid", true).addFormat("date-time", true);
  ajv.addKeyword({ keyword: "x-maxBytes", type: "object", schemaType: "number",
    validate: (max, value) => utf8.encode(JSON.stringify(value)).length <= max });
  ajv.addKeyword({ keyword: "x-maxDepth", type: "object", schemaType: "number",
    validate: (max, value) => depth(value) <= max });
  ajv.addKeyword({ keyword: "x-ijson", schemaType: "boolean", validate: () => true });
  // The root's x-maxBytes and x-ijson concern the text, so they are checked before parsing.
  const { "x-maxBytes": rootMax, ...rest } = schema;
  const check = ajv.compile(rest);
  return (text) => {
    if (rootMax !== undefined && utf8.encode(text).length > rootMax) return false;
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      return false;
    }
    if (schema["x-ijson"] && !isIJson(text)) return false;
    return check(value);
  };
}
