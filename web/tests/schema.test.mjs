// The published JSON Schemas give the native verdict on every shared vector: a client that
// validates with them (ajv here) accepts exactly what the server accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { loadVectors, repo } from "./vectors.mjs";
import { schemaValidator, isIJson } from "./schema-verdict.mjs";

async function validator(name) {
  const path = `${repo}shared/schema/schemas/${name}.schema.json`;
  return schemaValidator(JSON.parse(await readFile(path, "utf8")));
}

for (const [kind, name] of [["request", "event-request"], ["event", "user-event"]]) {
  test(`${name}.schema.json agrees with every ${kind} vector`, async () => {
    const valid = await validator(name);
    const vectors = await loadVectors(kind);
    assert.ok(vectors.length >= 10);
    const disagree = vectors.filter((v) => valid(v.body) !== v.ok)
      .map((v) => `${v.name}: native ${v.ok ? "accepts" : "rejects"}, the schema does not`);
    assert.deepEqual(disagree, []);
  });
}

test("the I-JSON check finds what JSON.parse forgives", () => {
  assert.equal(isIJson('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}'), true);
  assert.equal(isIJson('{"a":1,"a":2}'), false);
  assert.equal(isIJson('{"p":{"x":[1,{"y":1,"y":2}]}}'), false);
  assert.equal(isIJson('{"s":"\\ud800"}'), false);
  assert.equal(isIJson('{"n":1e400}'), false);
  assert.equal(isIJson('{"s":"a\\"b","t":"\\ud83d\\ude00","n":-1.5e3}'), true);
});
