// Decoding of PUT /v1/agent/service/register bodies the way Consul's agent decodes them: Go's JSON
// field matching is case-insensitive (clients send `ID` or `Id`), `Check` and `Checks` both count,
// and a body Consul would refuse is a 400 "Request decode failed: ...".

import type { CheckRegistration, ServiceRegistration } from '../../sources/agent/registrations.ts';
import { parseGoDuration } from '../../platform/go-duration.ts';
import type { CheckStatus } from '../../world/consul-types.ts';
import { HttpError } from './params.ts';

const STATUSES: readonly string[] = ['passing', 'warning', 'critical'];

function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function bad(msg: string): never {
  throw new HttpError(400, `Request decode failed: ${msg}`);
}

function str(obj: Record<string, unknown>, name: string): string {
  const v = field(obj, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') bad(`${name} must be a string`);
  return v;
}

function record(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(`${name} must be an object`);
  return v as Record<string, unknown>;
}

function stringMap(v: unknown, name: string): Record<string, string> {
  const r = record(v, name);
  for (const val of Object.values(r)) if (typeof val !== 'string') bad(`${name} values must be strings`);
  return r as Record<string, string>;
}

function port(v: unknown, name: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) bad(`${name} must be a port number`);
  return v;
}

function checkType(def: Record<string, unknown>): string {
  if (field(def, 'TTL')) return 'ttl';
  if (field(def, 'HTTP')) return 'http';
  if (field(def, 'TCP')) return 'tcp';
  if (field(def, 'GRPC')) return 'grpc';
  if (field(def, 'Args') || field(def, 'ScriptArgs')) return 'script';
  return '';
}

function decodeCheck(def: Record<string, unknown>): CheckRegistration {
  const ttl = str(def, 'TTL');
  if (ttl && parseGoDuration(ttl) === null) bad(`invalid TTL "${ttl}"`);
  const status = str(def, 'Status');
  if (status && !STATUSES.includes(status)) bad(`invalid check status "${status}"`);
  return {
    checkId: str(def, 'CheckID') || str(def, 'ID'),
    name: str(def, 'Name'),
    type: checkType(def),
    status: status as CheckStatus | '',
    notes: str(def, 'Notes'),
    interval: str(def, 'Interval'),
    timeout: str(def, 'Timeout'),
    ttl,
  };
}

function checkDefinitions(body: Record<string, unknown>): Record<string, unknown>[] {
  const defs: Record<string, unknown>[] = [];
  const one = field(body, 'Check');
  if (one !== undefined && one !== null) defs.push(record(one, 'Check'));
  const many = field(body, 'Checks');
  if (many !== undefined && many !== null) {
    if (!Array.isArray(many)) bad('Checks must be an array');
    for (const c of many) defs.push(record(c, 'Checks[]'));
  }
  return defs;
}

/** Throws HttpError 400 on a body Consul would refuse. */
export function decodeServiceRegistration(body: unknown): ServiceRegistration {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('body must be a JSON object');
  const b = body as Record<string, unknown>;
  const name = str(b, 'Name');
  if (!name) throw new HttpError(400, 'Missing service name');
  const tags = field(b, 'Tags') ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) bad('Tags must be an array of strings');
  const weights = record(field(b, 'Weights'), 'Weights');
  const passing = field(weights, 'Passing');
  const warning = field(weights, 'Warning');
  const taggedAddresses: Record<string, { Address: string; Port: number }> = {};
  for (const [k, v] of Object.entries(record(field(b, 'TaggedAddresses'), 'TaggedAddresses'))) {
    const r = record(v, `TaggedAddresses.${k}`);
    taggedAddresses[k] = { Address: str(r, 'Address'), Port: port(field(r, 'Port'), `TaggedAddresses.${k}.Port`) };
  }
  return {
    id: str(b, 'ID') || name,
    name,
    tags: tags as string[],
    address: str(b, 'Address'),
    port: port(field(b, 'Port'), 'Port'),
    meta: stringMap(field(b, 'Meta'), 'Meta'),
    weights: { Passing: typeof passing === 'number' ? passing : 1, Warning: typeof warning === 'number' ? warning : 1 },
    enableTagOverride: field(b, 'EnableTagOverride') === true,
    taggedAddresses,
    checks: checkDefinitions(b).map(decodeCheck),
  };
}
