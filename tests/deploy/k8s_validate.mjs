// Validates Kubernetes objects against the API's OpenAPI schemas (the kubernetes-models
// package, Kubernetes 1.30), and rejects fields the schema does not define, as the API
// server's strict field validation (kubectl's default) does.
// Input on stdin: a JSON array of objects. Output: one line per problem, naming the object
// and the field. Exit 0 all valid, 1 a problem, 77 kubernetes-models not installed.
import { readFileSync } from "node:fs";

let models;
try {
  models = await import("kubernetes-models");
} catch (e) {
  console.log(`skip: kubernetes-models is not installed (npm ci --prefix tests/deploy): ${e.message}`);
  process.exit(77);
}

const objects = JSON.parse(readFileSync(0, "utf8"));
const problems = [];

// The generated validators read each property they know through the object. A proxy
// records those reads; a key never read is a field the schema does not have.
// One proxy per object (a validator may read the same property twice).
function tracked(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  let entry = seen.get(value);
  if (!entry) {
    const read = new Set();
    entry = { path, read, proxy: new Proxy(value, {
      get(target, key) {
        if (typeof key !== "string") return target[key];
        read.add(key);
        return tracked(target[key], `${path}/${key}`, seen);
      },
    }) };
    seen.set(value, entry);
  }
  return entry.proxy;
}

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module = await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
  return module[kind];
}

for (const object of objects) {
  const name = `${object.kind} ${object.metadata?.namespace ? object.metadata.namespace + "/" : ""}${object.metadata?.name}`;
  let Model;
  try {
    Model = await modelFor(object.apiVersion || "", object.kind || "");
  } catch {
    Model = undefined;
  }
  if (!Model) {
    problems.push(`${name}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`);
    continue;
  }
  const seen = new Map();
  try {
    Model.prototype.validate.call(tracked(object, "", seen));
  } catch (e) {
    problems.push(`${name}: ${e.message}`);
    continue;
  }
  for (const [value, { path, read }] of seen) {
    if (Array.isArray(value)) continue;
    for (const key of Object.keys(value))
      if (!read.has(key)) problems.push(`${name}: unknown field ${path}/${key}`);
  }
}
for (const problem of problems) console.log(`FAIL ${problem}`);
if (!problems.length) console.log(`ok: ${objects.length} objects valid`);
process.exit(problems.length ? 1 : 0);
