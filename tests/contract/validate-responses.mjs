#!/usr/bin/env node
// Checks every HTTP response the integration suites received against openapi.yaml.
//
//   node validate-responses.mjs [--lint] [--spec FILE] [LOG]
//
// LOG (or $TEST_RESPONSE_LOG) is JSON lines, one per response, written by
// record_exchange() in tests/support.c:
//   {"method","target","status","headers":{lower-case name: value},"body"}
// --lint runs `redocly lint` on the document first (and fails if it does).
// --spec defaults to openapi.yaml at the repository root.
//
// For each exchange: the path (query stripped, empty segments ignored, as the
// server matches) must be a documented path and the method one of its
// operations, or else the answer must be the document's x-unmatched-requests
// response (404 for unknown paths, 405 with the right Allow for other
// methods); a 503 whose code is in x-connection-refusals must be its response
// whatever the path. The status must be listed explicitly for the operation (no
// `default`, no ranges); Content-Type must match a documented media type (no
// body and no Content-Type when none is documented); JSON bodies must validate
// (Ajv, JSON Schema 2020-12, strict, formats); every required header must be
// present, every documented header present must match its schema, and every
// response header of the API surface (x-request-id, retry-after, allow,
// location, www-authenticate, access-control-*) must be documented for that
// response.
// Exit status: 0 when every exchange conforms, 1 on any violation, on an
// empty or missing log, or when the lint fails; 2 on usage errors.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const SCHEMA_BASE = 'https://signup-api.invalid/openapi-components';
const SURFACE_HEADERS = [/^x-request-id$/, /^retry-after$/, /^allow$/, /^location$/, /^www-authenticate$/, /^access-control-/];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAX_ERRORS_SHOWN = 6;

// ---------------------------------------------------------------- arguments

function usage(message) {
  if (message) console.error(`validate-responses: ${message}`);
  console.error('usage: node validate-responses.mjs [--lint] [--spec openapi.yaml] [response-log.jsonl]');
  process.exit(2);
}

function parseArgs(argv) {
  const args = { lint: false, spec: path.join(ROOT, 'openapi.yaml'), log: process.env.TEST_RESPONSE_LOG || '' };
  let logGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--lint') args.lint = true;
    else if (a === '--spec') {
      if (i + 1 >= argv.length) usage('--spec needs a file');
      args.spec = path.resolve(argv[++i]);
    } else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (logGiven) usage('only one response log');
    else {
      args.log = a;
      logGiven = true;
    }
  }
  if (!args.log) usage('no response log (argument or TEST_RESPONSE_LOG)');
  return args;
}

// --------------------------------------------------------------------- lint

function runLint(specPath) {
  const bin = path.join(HERE, 'node_modules', '.bin', 'redocly');
  if (!existsSync(bin)) {
    console.error(`validate-responses: ${bin} is missing; run npm ci in ${HERE}`);
    return false;
  }
  const config = path.join(ROOT, 'redocly.yaml');
  const args = ['lint', specPath, '--format', 'stylish'];
  if (existsSync(config)) args.push('--config', config);
  console.log(`== redocly lint ${path.relative(process.cwd(), specPath) || specPath}`);
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  const output = `${r.stdout || ''}${r.stderr || ''}`;
  // Drop the CLI's boxed banners (e.g. its Node.js deprecation notice).
  const kept = output.split('\n').filter((l) => !/^\s*[║╔╚]/.test(l));
  console.log(kept.join('\n').replace(/\n{3,}/g, '\n\n').trim());
  if (r.status !== 0) return false;
  // Warnings do not make redocly fail; they make this check fail.
  if (/\b\d+ warnings?\b/.test(output) || /^\s*warning\b/m.test(output)) {
    console.error('validate-responses: the lint reported warnings');
    return false;
  }
  return true;
}

// ------------------------------------------------------------- the document

function loadSpec(specPath) {
  const doc = YAML.parseDocument(readFileSync(specPath, 'utf8'), { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`${specPath}: ${doc.errors[0].message}`);
  const spec = doc.toJS({ maxAliasCount: -1 });
  if (typeof spec?.openapi !== 'string' || !spec.openapi.startsWith('3.1')) {
    throw new Error(`${specPath}: not an OpenAPI 3.1 document`);
  }
  return spec;
}

function pointer(spec, ref) {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let node = spec;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) throw new Error(`unresolved $ref ${ref}`);
    node = node[key];
  }
  return node;
}

// Follows $ref chains of Response, Header and Parameter objects.
function deref(spec, node) {
  const seen = new Set();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) throw new Error(`$ref cycle at ${node.$ref}`);
    seen.add(node.$ref);
    node = pointer(spec, node.$ref);
  }
  return node;
}

// Schemas live under one Ajv schema whose $defs are components.schemas;
// every #/components/schemas/X becomes a reference into it.
function rewriteRefs(value) {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref' && typeof v === 'string') {
      if (!v.startsWith('#/components/schemas/')) throw new Error(`schema $ref outside components.schemas: ${v}`);
      out[k] = `${SCHEMA_BASE}#/$defs/${v.slice('#/components/schemas/'.length)}`;
    } else out[k] = rewriteRefs(v);
  }
  return out;
}

function makeAjv(spec) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, formats: { password: true } });
  addFormats(ajv);
  const defs = rewriteRefs(spec.components?.schemas ?? {});
  ajv.addSchema({ $id: SCHEMA_BASE, $defs: defs });
  // Compile every named schema now, so a schema error is reported even when
  // no exchange uses it.
  for (const name of Object.keys(defs)) ajv.getSchema(`${SCHEMA_BASE}#/$defs/${name}`);
  const cache = new Map();
  return (schema) => {
    if (!cache.has(schema)) cache.set(schema, ajv.compile(rewriteRefs(schema)));
    return cache.get(schema);
  };
}

function normalisePath(target) {
  const p = target.split('#')[0].split('?')[0];
  if (!p.startsWith('/')) return null; // absolute-form or garbage: the server matches no route
  return `/${p.split('/').filter((s) => s !== '').join('/')}`;
}

function templateToRegExp(template) {
  const segments = template.split('/').filter((s) => s !== '');
  const body = segments
    .map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^/${body}$`);
}

function buildRoutes(spec) {
  return Object.entries(spec.paths ?? {}).map(([template, item]) => {
    const operations = {};
    for (const m of HTTP_METHODS) if (item[m]) operations[m.toUpperCase()] = item[m];
    return { template, re: templateToRegExp(template), operations };
  });
}

function parseMediaType(value) {
  const [essence, ...params] = String(value).split(';');
  const parameters = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0) parameters[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
  }
  return { essence: essence.trim().toLowerCase(), parameters };
}

function mediaTypeMatches(documented, actual) {
  const d = parseMediaType(documented);
  const [dType, dSub] = d.essence.split('/');
  const [aType, aSub] = actual.essence.split('/');
  if (!(dType === '*' || dType === aType) || !(dSub === '*' || dSub === aSub)) return false;
  return Object.entries(d.parameters).every(([k, v]) => actual.parameters[k]?.toLowerCase() === v.toLowerCase());
}

function isJsonMediaType(essence) {
  return essence === 'application/json' || /^application\/[^/]+\+json$/.test(essence);
}

function coerceHeaderValue(schema, value) {
  const type = schema?.type;
  if ((type === 'integer' && /^-?\d+$/.test(value)) || (type === 'number' && /^-?\d+(\.\d+)?$/.test(value))) {
    return Number(value);
  }
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

function formatAjvErrors(errors) {
  const lines = (errors ?? []).map((e) => {
    const where = e.instancePath || '(root)';
    const extra = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
    return `${where} ${e.message}${extra}`;
  });
  const unique = [...new Set(lines)];
  const shown = unique.slice(0, MAX_ERRORS_SHOWN).join('; ');
  return unique.length > MAX_ERRORS_SHOWN ? `${shown}; … ${unique.length - MAX_ERRORS_SHOWN} more` : shown;
}

function excerpt(text, n = 160) {
  const s = String(text ?? '');
  return s.length > n ? `${JSON.stringify(s.slice(0, n))}…` : JSON.stringify(s);
}

// ------------------------------------------------------------ one exchange

function checkResponse(ctx, ex, response, problems) {
  const { spec, compile } = ctx;
  const headers = ex.headers;
  const documentedHeaders = new Map(
    Object.entries(response.headers ?? {}).map(([name, h]) => [name.toLowerCase(), deref(spec, h)]),
  );
  documentedHeaders.delete('content-type'); // ignored by OpenAPI; checked through `content`

  for (const [name, h] of documentedHeaders) {
    const value = headers[name];
    if (value === undefined) {
      if (h.required) problems.push(`required header ${name} is missing`);
      continue;
    }
    if (h.schema) {
      const validate = compile(h.schema);
      if (!validate(coerceHeaderValue(h.schema, value))) {
        problems.push(`header ${name}: ${excerpt(value, 80)} ${formatAjvErrors(validate.errors)}`);
      }
    }
  }
  for (const name of Object.keys(headers)) {
    if (SURFACE_HEADERS.some((re) => re.test(name)) && !documentedHeaders.has(name)) {
      problems.push(`header ${name} is not documented for this response`);
    }
  }

  const content = response.content ?? {};
  const mediaTypes = Object.keys(content);
  const contentType = headers['content-type'];
  const body = ex.body ?? '';
  if (mediaTypes.length === 0) {
    if (contentType !== undefined) problems.push(`Content-Type ${excerpt(contentType, 80)} but no content is documented`);
    if (body.length > 0) problems.push(`a body (${body.length} bytes) but no content is documented: ${excerpt(body)}`);
    return;
  }
  if (contentType === undefined) {
    problems.push(`no Content-Type; documented: ${mediaTypes.join(', ')}`);
    return;
  }
  const actual = parseMediaType(contentType);
  const key = mediaTypes.find((m) => mediaTypeMatches(m, actual));
  if (key === undefined) {
    problems.push(`Content-Type ${excerpt(contentType, 80)} is not documented (documented: ${mediaTypes.join(', ')})`);
    return;
  }
  if (ex.method === 'HEAD') {
    if (body.length > 0) problems.push(`a HEAD response with a body: ${excerpt(body)}`);
    return;
  }
  const schema = content[key].schema;
  let value = body;
  if (isJsonMediaType(actual.essence)) {
    try {
      value = JSON.parse(body);
    } catch (e) {
      problems.push(`body is not JSON (${e.message}): ${excerpt(body)}`);
      return;
    }
  } else if (actual.essence === 'application/yaml') {
    const doc = YAML.parseDocument(body);
    if (doc.errors.length > 0) problems.push(`body is not YAML: ${doc.errors[0].message.split('\n')[0]}`);
  }
  if (schema !== undefined) {
    const validate = compile(schema);
    if (!validate(value)) problems.push(`body: ${formatAjvErrors(validate.errors)} — ${excerpt(body)}`);
  }
}

// The problem+json `code` of a body, or undefined.
function problemCode(body) {
  try {
    const value = JSON.parse(body ?? '');
    return typeof value?.code === 'string' ? value.code : undefined;
  } catch {
    return undefined;
  }
}

function checkExchange(ctx, ex) {
  const { spec, routes } = ctx;
  const problems = [];
  const method = ex.method.toUpperCase();
  const normalised = normalisePath(ex.target);
  const route = normalised === null ? undefined : routes.find((r) => r.re.test(normalised));
  const unmatched = spec['x-unmatched-requests'] ?? {};
  const transport = spec['x-transport-responses'];
  const refusals = spec['x-connection-refusals'];

  // libmicrohttpd's own answers: listed statuses, and none of the service's marks.
  if (
    Array.isArray(transport?.statuses) &&
    transport.statuses.includes(ex.status) &&
    ex.headers['x-request-id'] === undefined &&
    ex.headers['content-type'] === undefined
  ) {
    return { label: '(transport-level response)', problems };
  }

  // A connection over a limit: the same refusal on every path and method.
  const refusalCode = ex.status === 503 ? problemCode(ex.body) : undefined;
  if (refusals?.response && Array.isArray(refusals.codes) && refusals.codes.includes(refusalCode)) {
    const label = `(connection refused: ${refusalCode})`;
    checkResponse(ctx, ex, deref(spec, refusals.response), problems);
    return { label, problems };
  }

  if (route === undefined) {
    const label = '(unknown path)';
    const response = unmatched.unknownPath && deref(spec, unmatched.unknownPath);
    if (!response) return { label, problems: ['the document has no x-unmatched-requests.unknownPath'] };
    if (ex.status !== 404) problems.push(`an unknown path must be answered 404, got ${ex.status}`);
    checkResponse(ctx, ex, response, problems);
    return { label, problems };
  }

  const operation = route.operations[method];
  if (operation === undefined) {
    const label = `${method} ${route.template} (undocumented method)`;
    const response = unmatched.methodNotAllowed && deref(spec, unmatched.methodNotAllowed);
    if (!response) return { label, problems: ['the document has no x-unmatched-requests.methodNotAllowed'] };
    if (ex.status !== 405) problems.push(`an undocumented method must be answered 405, got ${ex.status}`);
    const methods = Object.keys(route.operations).filter((m) => m !== 'OPTIONS');
    const expectedAllow = [...methods, 'OPTIONS'].join(', ');
    if (ex.headers.allow !== undefined && ex.headers.allow !== expectedAllow) {
      problems.push(`Allow is ${excerpt(ex.headers.allow, 80)}, the documented methods are ${excerpt(expectedAllow)}`);
    }
    checkResponse(ctx, ex, response, problems);
    return { label, problems };
  }

  const label = `${operation.operationId ?? '(no operationId)'} ${method} ${route.template}`;
  const response = operation.responses?.[String(ex.status)];
  if (response === undefined) {
    const documented = Object.keys(operation.responses ?? {}).join(', ');
    problems.push(`status ${ex.status} is not documented for this operation (documented: ${documented})`);
    return { label, problems };
  }
  checkResponse(ctx, ex, deref(spec, response), problems);
  return { label, problems };
}

// --------------------------------------------------------------------- main

function readExchanges(logPath) {
  if (!existsSync(logPath)) throw new Error(`${logPath} does not exist`);
  const lines = readFileSync(logPath, 'utf8').split('\n');
  const exchanges = [];
  const bad = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let ex;
    try {
      ex = JSON.parse(line);
    } catch (e) {
      bad.push(`line ${i + 1}: not JSON (${e.message})`);
      return;
    }
    const ok =
      ex &&
      typeof ex.method === 'string' &&
      /^[A-Za-z]+$/.test(ex.method) &&
      typeof ex.target === 'string' &&
      Number.isInteger(ex.status) &&
      ex.headers !== null &&
      typeof ex.headers === 'object' &&
      !Array.isArray(ex.headers) &&
      Object.entries(ex.headers).every(([k, v]) => k === k.toLowerCase() && typeof v === 'string') &&
      (ex.body === undefined || typeof ex.body === 'string');
    if (!ok) bad.push(`line ${i + 1}: not a {method, target, status, headers, body} exchange`);
    else exchanges.push({ ...ex, line: i + 1 });
  });
  return { exchanges, bad };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  let failed = false;

  if (args.lint && !runLint(args.spec)) {
    console.error('validate-responses: redocly lint failed');
    failed = true;
  }

  let spec;
  let compile;
  try {
    spec = loadSpec(args.spec);
    compile = makeAjv(spec);
  } catch (e) {
    console.error(`validate-responses: ${e.message}`);
    process.exit(1);
  }
  const ctx = { spec, compile, routes: buildRoutes(spec) };

  let exchanges;
  let bad;
  try {
    ({ exchanges, bad } = readExchanges(args.log));
  } catch (e) {
    console.error(`validate-responses: ${e.message}`);
    process.exit(1);
  }

  console.log(`\n== ${exchanges.length} exchanges from ${args.log} against ${path.relative(process.cwd(), args.spec) || args.spec}`);
  const summary = new Map(); // label -> Map(status -> {ok, bad})
  const violations = [...bad];
  for (const ex of exchanges) {
    let result;
    try {
      result = checkExchange(ctx, ex);
    } catch (e) {
      result = { label: '(checker error)', problems: [`cannot check: ${e.message}`] };
    }
    if (!summary.has(result.label)) summary.set(result.label, new Map());
    const byStatus = summary.get(result.label);
    const counts = byStatus.get(ex.status) ?? { ok: 0, bad: 0 };
    counts[result.problems.length ? 'bad' : 'ok']++;
    byStatus.set(ex.status, counts);
    for (const p of result.problems) {
      violations.push(`${ex.method} ${excerpt(ex.target, 120)} → ${ex.status} (line ${ex.line}): ${p}`);
    }
  }

  // Per-operation summary, and which documented statuses no exchange reached.
  const documented = new Map();
  for (const r of ctx.routes) {
    for (const [m, op] of Object.entries(r.operations)) {
      documented.set(`${op.operationId ?? '(no operationId)'} ${m} ${r.template}`, Object.keys(op.responses ?? {}));
    }
  }
  const labels = [...new Set([...documented.keys(), ...summary.keys()])];
  const width = Math.max(...labels.map((l) => l.length));
  console.log('');
  for (const label of labels) {
    const byStatus = summary.get(label) ?? new Map();
    const parts = [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, c]) => `${s}×${c.ok + c.bad}${c.bad ? ` (${c.bad} bad)` : ''}`);
    const missing = (documented.get(label) ?? []).filter((s) => !byStatus.has(Number(s)));
    const seen = parts.length ? parts.join(' ') : 'no exchanges';
    console.log(`  ${label.padEnd(width)}  ${seen}${missing.length ? `   [not exercised: ${missing.join(' ')}]` : ''}`);
  }

  if (exchanges.length === 0) {
    console.error(`\nvalidate-responses: ${args.log} holds no exchanges`);
    failed = true;
  }
  if (violations.length > 0) {
    console.error(`\n${violations.length} violation(s):`);
    for (const v of violations) console.error(`  ✗ ${v}`);
    failed = true;
  } else if (exchanges.length > 0) {
    console.log(`\nall ${exchanges.length} responses conform to the contract`);
  }
  process.exit(failed ? 1 : 0);
}

main();
