#!/usr/bin/env node
// tests/contract/validate-responses.js — contract = behaviour (issue 17.12),
// run by tests/run-tests.sh after the integration tests: every response the
// server tests recorded (tests/integration/e2e_lib.bash, one JSON line per
// request: method, path, status, content_type, body) is checked against
// server-api/openapi.yaml with a real JSON Schema validator (Ajv 8, which
// knows OpenAPI 3.0's `nullable`; formats from ajv-formats):
//   * the path matches one of the spec's paths (a literal segment before a
//     {parameter}); the method is one of its operations;
//   * the status is one the operation declares (no `default` stands in);
//   * a declared body: the Content-Type is one the response declares, and
//     the body parses and validates against its schema; no declared body:
//     the body is empty.
// Requests to no path (404) or to a path without that method (405) are
// checked against the spec's top-level `x-mamori-unrouted` responses.
// Generic: endpoints added to the spec and to the tests are checked with
// no change here.
//   node tests/contract/validate-responses.js [--spec FILE] DIR|FILE.jsonl...
// Exit 0 when every record validates and there was at least one; 1 otherwise.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const args = process.argv.slice(2);
let specFile = path.join(__dirname, '..', '..', 'server-api', 'openapi.yaml');
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--spec') specFile = args[++i];
  else inputs.push(args[i]);
}
if (!inputs.length) {
  console.error('usage: validate-responses.js [--spec FILE] DIR|FILE.jsonl...');
  process.exit(2);
}

const spec = yaml.load(fs.readFileSync(specFile, 'utf8'));
const ajv = new Ajv({strict: false, allErrors: true, validateFormats: true});
addFormats(ajv);
ajv.addSchema(spec, 'openapi.json');

const ptr = (parts) => '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const get = (pointer) =>
  pointer.slice(2).split('/').reduce((o, k) => (o == null ? o : o[k.replace(/~1/g, '/').replace(/~0/g, '~')]), spec);

// A response object and where it is (following $ref to components/responses).
function resolveResponse(parts) {
  let p = ptr(parts);
  let r = get(p);
  for (let n = 0; r && r.$ref && n < 8; n++) {
    p = r.$ref;
    r = get(p);
  }
  return r ? {obj: r, pointer: p} : null;
}

const validators = new Map();
function validatorFor(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.compile({$ref: 'openapi.json' + pointer}));
  return validators.get(pointer);
}

// Spec paths as segment lists; a literal segment wins over a {parameter}.
const routes = Object.keys(spec.paths).map((p) => ({p, segs: p.split('/')}));
function matchPath(actual) {
  const segs = actual.split('/');
  let best = null;
  let bestScore = -1;
  for (const r of routes) {
    if (r.segs.length !== segs.length) continue;
    let score = 0;
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      if (/^\{.+\}$/.test(r.segs[i])) ok = segs[i].length > 0;
      else if (r.segs[i] === segs[i]) score++;
      else ok = false;
    }
    if (ok && score > bestScore) (best = r), (bestScore = score);
  }
  return best;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function checkBody(rec, resp, where) {
  const errs = [];
  const content = resp.obj.content;
  if (!content) {
    if (rec.body.length) errs.push(`${where}: declares no body but one came (${rec.body.slice(0, 80)})`);
    return errs;
  }
  const mt = (rec.content_type || '').split(';')[0].trim().toLowerCase();
  if (!mt) {
    errs.push(`${where}: declares a body (${Object.keys(content).join(', ')}) but none came`);
    return errs;
  }
  if (!(mt in content)) {
    errs.push(`${where}: Content-Type ${mt} not declared (${Object.keys(content).join(', ')})`);
    return errs;
  }
  const m = content[mt];
  if (!m.schema) return errs;
  let value = rec.body;
  if (/json/.test(mt)) {
    try {
      value = JSON.parse(rec.body);
    } catch (e) {
      errs.push(`${where}: body is not JSON: ${e.message}`);
      return errs;
    }
  }
  const v = validatorFor(resp.pointer + '/content/' + mt.replace(/~/g, '~0').replace(/\//g, '~1') + '/schema');
  if (!v(value))
    for (const e of v.errors) errs.push(`${where}: body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  return errs;
}

function check(rec) {
  const where = `${rec.test}: ${rec.method} ${rec.path} → ${rec.status}`;
  const unrouted = spec['x-mamori-unrouted'] || {};
  const route = matchPath(rec.path);
  const m = rec.method.toLowerCase();
  if (!route || !(m in spec.paths[route.p])) {
    const code = route ? '405' : '404';
    if (String(rec.status) !== code)
      return {key: `unrouted ${code}`, errs: [`${where}: ${route ? 'no such method' : 'no such path'} in the spec`]};
    const r = unrouted[code] ? resolveResponse(['x-mamori-unrouted', code]) : null;
    if (!r) return {key: `unrouted ${code}`, errs: [`${where}: x-mamori-unrouted declares no ${code}`]};
    return {key: `unrouted ${code}`, errs: checkBody(rec, r, where)};
  }
  const key = `${rec.method} ${route.p} ${rec.status}`;
  const op = spec.paths[route.p][m];
  const status = String(rec.status);
  if (!op.responses || !(status in op.responses))
    return {key, errs: [`${where}: status ${status} not declared for ${rec.method} ${route.p}`]};
  const r = resolveResponse(['paths', route.p, m, 'responses', status]);
  return {key, errs: checkBody(rec, r, where)};
}

const files = [];
for (const i of inputs) {
  if (fs.statSync(i).isDirectory()) {
    for (const f of fs.readdirSync(i).sort()) if (f.endsWith('.jsonl')) files.push(path.join(i, f));
  } else {
    files.push(i);
  }
}
let n = 0;
let bad = 0;
const seen = new Map();
for (const f of files)
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      console.log(`FAIL  ${f}: unreadable record: ${e.message}`);
      bad++;
      continue;
    }
    n++;
    const {key, errs} = check(rec);
    seen.set(key, (seen.get(key) || 0) + 1);
    for (const e of errs.slice(0, 5)) console.log('FAIL  ' + e);
    if (errs.length) bad++;
  }
// what was exercised, and the declared responses no test produced (informational)
const declared = [];
for (const [p, item] of Object.entries(spec.paths))
  for (const m of METHODS)
    if (item[m]) for (const s of Object.keys(item[m].responses || {})) declared.push(`${m.toUpperCase()} ${p} ${s}`);
const missing = declared.filter((k) => !seen.has(k));
console.log(`validated ${n} recorded responses from ${files.length} tests against ${path.basename(specFile)}: ` +
            `${seen.size} distinct (operation, status); ${declared.length - missing.length} of ${declared.length} ` +
            'declared responses exercised');
if (process.env.CONTRACT_VERBOSE) for (const k of missing) console.log('      not exercised: ' + k);
if (!n) console.log('FAIL  no recorded responses (is the recorder in tests/integration/e2e_lib.bash working?)');
console.log(`${n - bad} passed, ${bad} failed`);
process.exit(bad || !n ? 1 : 0);
