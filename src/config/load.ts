// Load configuration: defaults < YAML file (--config) < DISCOVERY_* env < flags. Every value goes
// through the knob table in schema.ts; any bad value is rejected with a message naming the key
// and where it came from, and nothing starts.

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { DiscoveryConfig } from './config.ts';
import { DEFAULT_CONFIG } from './defaults.ts';
import { KNOBS, KNOB_BY_KEY, type Knob } from './schema.ts';
import { DiscoveryError } from '../platform/errors.ts';
import { parseGoDuration } from '../platform/go-duration.ts';
import { isLoopbackHost, parseHostPort } from '../platform/host-port.ts';

export interface ConfigInput {
  readonly configFile?: string | undefined;
  /** Flag values by knob key (top-level knobs only), as strings. */
  readonly flags?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

const SECTIONS = new Set(['dns', 'sidecars', 'live']);

function fail(origin: string, key: string, why: string): never {
  throw new DiscoveryError('DSC_ERR_CONFIG', `${origin}: ${key}: ${why}`);
}

function asScalarString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

function durationMs(v: unknown): number | null {
  if (typeof v === 'number') return v === 0 ? 0 : null; // a bare number has no unit (as in Go), except 0
  if (typeof v !== 'string') return null;
  const ms = parseGoDuration(v.trim());
  return ms === null || ms < 0 ? null : ms;
}

/** Convert one raw value for a knob; `baseDir` resolves relative paths. */
function convert(knob: Knob, raw: unknown, origin: string, baseDir: string): unknown {
  const bad: (why: string) => never = (why) => fail(origin, knob.key, why);
  switch (knob.type) {
    case 'addr': {
      const s = asScalarString(raw);
      if (s === null || !parseHostPort(s)) bad(`must be host:port (e.g. 127.0.0.1:8500), got ${JSON.stringify(raw)}`);
      return s;
    }
    case 'string': {
      const s = asScalarString(raw);
      if (s === null || s.trim() === '') bad('must be a non-empty string');
      return s;
    }
    case 'path': {
      const s = asScalarString(raw);
      if (s === null || s.trim() === '') bad('must be a file or directory path');
      return resolve(baseDir, s);
    }
    case 'domain': {
      const s = asScalarString(raw);
      if (s === null || !/^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.?$/.test(s)) bad('must be a DNS domain such as consul.');
      return `${s.toLowerCase().replace(/\.$/, '')}.`;
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) bad(`must be an integer, got ${JSON.stringify(raw)}`);
      if (knob.min !== undefined && n < knob.min) bad(`must be at least ${knob.min}`);
      if (knob.max !== undefined && n > knob.max) bad(`must be at most ${knob.max}`);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad(`must be true or false, got ${JSON.stringify(raw)}`);
    }
    case 'duration': {
      const ms = durationMs(raw);
      if (ms === null) bad(`must be a duration such as 500ms, 3s or 5m, got ${JSON.stringify(raw)}`);
      if (knob.min !== undefined && ms < knob.min) bad(`must be at least ${knob.min}ms`);
      return knob.path[1] === 'nodeTtl' || knob.path[1] === 'meshTtl' ? Math.floor(ms / 1000) : ms;
    }
    case 'list': {
      const items = typeof raw === 'string' ? raw.split(',').map((x) => x.trim()).filter(Boolean) : raw;
      if (!Array.isArray(items) || !items.every((x) => typeof x === 'string' && x.trim() !== '')) bad('must be a list of strings');
      return Object.freeze([...(items as string[])]);
    }
    case 'ttl-map': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('must be a map of service name (or prefix*) to duration');
      const out: Record<string, number> = {};
      for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
        const ms = durationMs(v);
        if (ms === null) fail(origin, `${knob.key}.${name}`, 'must be a duration such as 10s');
        out[name.toLowerCase()] = Math.floor(ms / 1000);
      }
      return Object.freeze(out);
    }
    case 'mesh-rule':
      if (raw !== 'any' && raw !== 'all') bad('must be "any" or "all"');
      return raw;
    case 'url': {
      const s = asScalarString(raw);
      let url: URL | null = null;
      try {
        url = s === null ? null : new URL(s);
      } catch {
        url = null;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') bad(`must be an http:// or https:// URL such as http://127.0.0.1:8500, got ${JSON.stringify(raw)}`);
      if (url.username || url.password) bad('must not carry credentials: give the token through CONSUL_HTTP_TOKEN or consul-token-file');
      if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) bad('must be the agent address only (scheme, host, port), with no path or query');
      return url.origin;
    }
    case 'kv-key': {
      const s = asScalarString(raw);
      if (s === null || !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(s)) bad('must be a Consul KV key such as discovery/control (no leading or trailing slash)');
      return s;
    }
    case 'strategy':
      if (raw !== 'sequential' && raw !== 'random') bad('must be "sequential" or "random"');
      return raw;
  }
}

type Mutable = Record<string, unknown> & { dns: Record<string, unknown>; sidecars: Record<string, unknown>; live: Record<string, unknown> };

function assign(target: Mutable, knob: Knob, value: unknown): void {
  if (knob.path.length === 1) target[knob.path[0]] = value;
  else (target[knob.path[0]] as Record<string, unknown>)[knob.path[1]] = value;
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DiscoveryError('DSC_ERR_CONFIG', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0];
    throw new DiscoveryError('DSC_ERR_CONFIG', `config file ${file}${line ? ` line ${line.line}` : ''}: ${e.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DiscoveryError('DSC_ERR_CONFIG', `config file ${file}: must be a YAML mapping of settings`);
  return value as Record<string, unknown>;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** One source per part: a snapshot or a live upstream, never both (a mix of parts is fine). */
function checkSourceChoice(cfg: Mutable): void {
  if (cfg['consulAddr'] && cfg['consulSnapshot']) fail('config', 'consul-addr', 'and consul-snapshot are both set: choose the live upstream or the snapshot file');
  if (cfg['kubeconfig'] && cfg['kubeSnapshot']) fail('config', 'kubeconfig', 'and kube-snapshot are both set: choose the live cluster or the snapshot file');
  if (cfg['kubeInCluster'] && cfg['kubeSnapshot']) fail('config', 'kube-in-cluster', 'and kube-snapshot are both set: choose the live cluster or the snapshot file');
  if (cfg['kubeInCluster'] && cfg['kubeconfig']) fail('config', 'kube-in-cluster', 'and kubeconfig are both set: choose one way to reach the cluster');
}

export async function loadConfig(input: ConfigInput = {}): Promise<DiscoveryConfig> {
  const cwd = input.cwd ?? process.cwd();
  const env = input.env ?? {};
  const cfg = { ...DEFAULT_CONFIG, dns: { ...DEFAULT_CONFIG.dns }, sidecars: { ...DEFAULT_CONFIG.sidecars }, live: { ...DEFAULT_CONFIG.live } } as unknown as Mutable;
  // In a Pod, the downward API names the namespace and the replica; knobs override both.
  cfg['namespace'] = env['POD_NAMESPACE'] || DEFAULT_CONFIG.namespace;
  cfg['replicaId'] = env['POD_NAME'] || hostname();
  // Relative state dir defaults to the working directory.
  cfg['stateDir'] = resolve(cwd, DEFAULT_CONFIG.stateDir);

  if (input.configFile) {
    const file = resolve(cwd, input.configFile);
    const origin = `config file ${file}`;
    const raw = await readConfigFile(file);
    for (const [key, value] of Object.entries(raw)) {
      if (SECTIONS.has(key)) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(origin, key, 'must be a mapping');
        for (const [sub, v] of Object.entries(value as Record<string, unknown>)) {
          const knob = KNOB_BY_KEY.get(`${key}.${sub}`);
          if (!knob) fail(origin, `${key}.${sub}`, 'unknown setting');
          if (v === null) continue;
          assign(cfg, knob, convert(knob, v, origin, dirname(file)));
        }
        continue;
      }
      const knob = KNOB_BY_KEY.get(key);
      if (!knob) fail(origin, key, key === 'admin-token' ? 'the admin token is read from DISCOVERY_ADMIN_TOKEN only, never from a file' : 'unknown setting');
      if (value === null) continue;
      assign(cfg, knob, convert(knob, value, origin, dirname(file)));
    }
  }
  for (const knob of KNOBS) {
    const v = knob.env ? env[knob.env] : undefined;
    if (v !== undefined && v !== '') assign(cfg, knob, convert(knob, v, `environment ${knob.env}`, cwd));
  }
  for (const [key, v] of Object.entries(input.flags ?? {})) {
    const knob = KNOB_BY_KEY.get(key);
    if (!knob) fail('command line', `--${key}`, 'unknown flag');
    assign(cfg, knob, convert(knob, v, 'command line', cwd));
  }
  const token = env['DISCOVERY_ADMIN_TOKEN'];
  cfg['adminToken'] = token && token.length > 0 ? token : null;
  if (token !== undefined && token !== '' && token.length < 16) fail('environment DISCOVERY_ADMIN_TOKEN', 'admin token', 'must be at least 16 characters');

  checkSourceChoice(cfg);

  const admin = parseHostPort(cfg['adminAddr'] as string)!;
  if (!cfg['adminToken'] && !isLoopbackHost(admin.host)) {
    fail('config', 'admin-addr', `${String(cfg['adminAddr'])} is not a loopback address; set DISCOVERY_ADMIN_TOKEN to expose the admin API beyond this host`);
  }
  return deepFreeze(cfg as unknown as DiscoveryConfig);
}
