// Services registered on this agent through PUT /v1/agent/service/register (Spring Cloud Consul and
// go-micro self-register at start and fail to boot without it), with their checks. Kept in
// <stateDir>/agent-services.json so a restart keeps them.
//
// Wiring (done by the lead in app.ts): the catalog the world is built from must include these:
//   const agent = await AgentStore.open(config.stateDir, { nextIndex: () => clock.next() });
//   agent.onChange(() => world.update({ consul: mergeAgentInstances(sourceCatalog, agent.instances(node)) }));
// and the same merge whenever the source delivers a new catalog.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckStatus, ConsulCatalog, ConsulInstance, ConsulNode, ConsulService, HealthCheck, NodeService } from '../../world/consul-types.ts';
import { writeFileAtomic } from '../../platform/atomic-file.ts';
import { DiscoveryError, errorMessage } from '../../platform/errors.ts';
import { parseGoDuration } from '../../platform/go-duration.ts';
import { HttpError } from './params.ts';

/**
 * A check registered on this agent: a catalog HealthCheck without what the catalog derives (node,
 * the service's tags, create index), plus the TTL that drives it. Type: ttl, http, tcp, grpc, script or ''.
 */
export interface AgentCheck extends Omit<HealthCheck, 'Node' | 'ServiceTags' | 'CreateIndex'> {
  /** Go duration; only for TTL checks. */
  readonly TTL: string;
}

export interface AgentService {
  readonly ID: string;
  readonly Service: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly Port: number;
  readonly Meta: Readonly<Record<string, string>>;
  readonly Weights: { readonly Passing: number; readonly Warning: number };
  readonly EnableTagOverride: boolean;
  readonly TaggedAddresses?: Readonly<Record<string, { readonly Address: string; readonly Port: number }>>;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

interface StateFile {
  readonly services: readonly AgentService[];
  readonly checks: readonly AgentCheck[];
}

export interface AgentNode {
  readonly name: string;
  readonly address: string;
  readonly datacenter: string;
}

const FILE = 'agent-services.json';
const STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

/** Go's JSON decoder matches field names case-insensitively; clients rely on it (`ID` vs `Id`). */
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

function parseCheckDefs(body: Record<string, unknown>): Record<string, unknown>[] {
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

function checkType(def: Record<string, unknown>): string {
  if (field(def, 'TTL')) return 'ttl';
  if (field(def, 'HTTP')) return 'http';
  if (field(def, 'TCP')) return 'tcp';
  if (field(def, 'GRPC')) return 'grpc';
  if (field(def, 'Args') || field(def, 'ScriptArgs')) return 'script';
  return '';
}

export class AgentStore {
  #state: StateFile = { services: [], checks: [] };
  readonly #path: string;
  readonly #nextIndex: () => number;
  readonly #listeners = new Set<() => void>();
  readonly #ttlTimers = new Map<string, NodeJS.Timeout>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, nextIndex: () => number) {
    this.#path = join(dir, FILE);
    this.#nextIndex = nextIndex;
  }

  /** Loads the saved registrations; a corrupt file is an error, never silently dropped. */
  static async open(dir: string, opts: { nextIndex: () => number }): Promise<AgentStore> {
    const store = new AgentStore(dir, opts.nextIndex);
    let text: string | null = null;
    try {
      text = await readFile(store.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DiscoveryError('DSC_ERR_STATE', `cannot read ${store.#path}: ${errorMessage(err)}`);
    }
    if (text !== null) {
      try {
        const raw = JSON.parse(text) as StateFile;
        if (!Array.isArray(raw.services) || !Array.isArray(raw.checks)) throw new Error('services and checks must be arrays');
        store.#state = { services: raw.services, checks: raw.checks };
      } catch (err) {
        throw new DiscoveryError('DSC_ERR_STATE', `state file ${store.#path} is invalid: ${errorMessage(err)}; fix or remove it`);
      }
      for (const c of store.#state.checks) if (c.Type === 'ttl' && c.Status !== 'critical') store.#armTtl(c);
    }
    return store;
  }

  /** Called after every change that alters what the catalog shows. Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  services(): readonly AgentService[] {
    return this.#state.services;
  }

  checks(): readonly AgentCheck[] {
    return this.#state.checks;
  }

  service(id: string): AgentService | undefined {
    return this.#state.services.find((s) => s.ID === id);
  }

  /** PUT /v1/agent/service/register. Throws HttpError 400 on a body Consul would refuse. */
  register(body: unknown): Promise<void> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('body must be a JSON object');
    const b = body as Record<string, unknown>;
    const name = str(b, 'Name');
    if (!name) throw new HttpError(400, 'Missing service name');
    const id = str(b, 'ID') || name;
    const tagsRaw = field(b, 'Tags') ?? [];
    if (!Array.isArray(tagsRaw) || tagsRaw.some((t) => typeof t !== 'string')) bad('Tags must be an array of strings');
    const weightsRaw = record(field(b, 'Weights'), 'Weights');
    const passing = field(weightsRaw, 'Passing');
    const warning = field(weightsRaw, 'Warning');
    const tagged = record(field(b, 'TaggedAddresses'), 'TaggedAddresses');
    const taggedOut: Record<string, { Address: string; Port: number }> = {};
    for (const [k, v] of Object.entries(tagged)) {
      const r = record(v, `TaggedAddresses.${k}`);
      taggedOut[k] = { Address: str(r, 'Address'), Port: port(field(r, 'Port'), `TaggedAddresses.${k}.Port`) };
    }
    const defs = parseCheckDefs(b);
    for (const d of defs) {
      const ttl = str(d, 'TTL');
      if (ttl && parseGoDuration(ttl) === null) bad(`invalid TTL "${ttl}"`);
      const status = str(d, 'Status');
      if (status && !STATUSES.includes(status as CheckStatus)) bad(`invalid check status "${status}"`);
    }

    return this.#change(() => {
      const index = this.#nextIndex();
      const prev = this.service(id);
      const svc: AgentService = {
        ID: id,
        Service: name,
        Tags: tagsRaw as string[],
        Address: str(b, 'Address'),
        Port: port(field(b, 'Port'), 'Port'),
        Meta: stringMap(field(b, 'Meta'), 'Meta'),
        Weights: { Passing: typeof passing === 'number' ? passing : 1, Warning: typeof warning === 'number' ? warning : 1 },
        EnableTagOverride: field(b, 'EnableTagOverride') === true,
        ...(Object.keys(taggedOut).length > 0 ? { TaggedAddresses: taggedOut } : {}),
        CreateIndex: prev?.CreateIndex ?? index,
        ModifyIndex: index,
      };
      const oldChecks = new Map(this.#state.checks.filter((c) => c.ServiceID === id).map((c) => [c.CheckID, c]));
      const checks = defs.map((d, i): AgentCheck => {
        const checkId = str(d, 'CheckID') || str(d, 'ID') || (defs.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`);
        const type = checkType(d);
        const explicit = str(d, 'Status') as CheckStatus | '';
        const kept = oldChecks.get(checkId);
        // Discovery runs no probes: a TTL check starts critical as in Consul (the client heartbeats it);
        // any other kind is shown passing, since nothing here would ever turn it passing.
        const status: CheckStatus = explicit || kept?.Status || (type === 'ttl' ? 'critical' : 'passing');
        const output = kept?.Output ?? (type === 'ttl' || type === '' ? '' : `${type} check is not run by Discovery`);
        return {
          CheckID: checkId,
          Name: str(d, 'Name') || `Service '${name}' check`,
          Status: status,
          Notes: str(d, 'Notes'),
          Output: output,
          ServiceID: id,
          ServiceName: name,
          Type: type,
          Interval: str(d, 'Interval'),
          Timeout: str(d, 'Timeout'),
          TTL: str(d, 'TTL'),
          ModifyIndex: index,
        };
      });
      return {
        services: [...this.#state.services.filter((s) => s.ID !== id), svc].sort((a, c) => (a.ID < c.ID ? -1 : a.ID > c.ID ? 1 : 0)),
        checks: [...this.#state.checks.filter((c) => c.ServiceID !== id), ...checks],
      };
    }).then(() => {
      for (const c of this.#state.checks) if (c.ServiceID === id && c.Type === 'ttl') this.#armTtl(c);
    });
  }

  /** PUT /v1/agent/service/deregister/:id */
  deregister(id: string): Promise<void> {
    return this.#change(() => {
      if (!this.service(id)) throw new HttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
      for (const c of this.#state.checks) if (c.ServiceID === id) this.#disarmTtl(c.CheckID);
      return { services: this.#state.services.filter((s) => s.ID !== id), checks: this.#state.checks.filter((c) => c.ServiceID !== id) };
    });
  }

  /** PUT /v1/agent/check/{pass,warn,fail,update}/:id — TTL checks only, as in Consul. */
  updateCheck(checkId: string, status: string, output: string): Promise<void> {
    if (!STATUSES.includes(status as CheckStatus)) return Promise.reject(new HttpError(400, `Invalid check status: '${status}'`));
    const existing = this.#state.checks.find((c) => c.CheckID === checkId);
    if (!existing) return Promise.reject(new HttpError(404, `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`));
    if (existing.Type !== 'ttl') return Promise.reject(new HttpError(500, `CheckID "${checkId}" does not have associated TTL`));
    if (status === 'critical') this.#disarmTtl(checkId);
    else this.#armTtl(existing);
    // Heartbeats that change nothing are not writes: no file update, no index bump.
    if (existing.Status === status && existing.Output === output) return Promise.resolve();
    return this.#change(() => ({
      services: this.#state.services,
      checks: this.#state.checks.map((c) => (c.CheckID === checkId ? { ...c, Status: status as CheckStatus, Output: output, ModifyIndex: this.#nextIndex() } : c)),
    }));
  }

  /** The registrations as catalog instances on this agent's node, for the world's catalog. */
  instances(node: AgentNode): ConsulInstance[] {
    const consulNode: ConsulNode = {
      ID: '',
      Node: node.name,
      Address: node.address,
      Datacenter: node.datacenter,
      TaggedAddresses: { lan: node.address, lan_ipv4: node.address, wan: node.address, wan_ipv4: node.address },
      Meta: { 'consul-network-segment': '' },
      CreateIndex: 1,
      ModifyIndex: 1,
    };
    return this.#state.services.map((s) => ({ node: consulNode, service: toNodeService(s), checks: this.#state.checks.filter((c) => c.ServiceID === s.ID).map((c) => toHealthCheck(c, node.name, s)) }));
  }

  /** Stops TTL timers (shutdown, tests). */
  close(): void {
    for (const t of this.#ttlTimers.values()) clearTimeout(t);
    this.#ttlTimers.clear();
  }

  #armTtl(c: AgentCheck): void {
    this.#disarmTtl(c.CheckID);
    const ms = parseGoDuration(c.TTL);
    if (ms === null || ms <= 0) return;
    const t = setTimeout(() => {
      this.#ttlTimers.delete(c.CheckID);
      const cur = this.#state.checks.find((x) => x.CheckID === c.CheckID);
      if (cur && cur.Status !== 'critical') void this.updateCheck(c.CheckID, 'critical', `TTL expired`).catch(() => undefined);
    }, ms);
    t.unref();
    this.#ttlTimers.set(c.CheckID, t);
  }

  #disarmTtl(checkId: string): void {
    const t = this.#ttlTimers.get(checkId);
    if (t) clearTimeout(t);
    this.#ttlTimers.delete(checkId);
  }

  /** Serialized: compute next state, persist it, then apply and notify. Nothing changes if the write fails. */
  #change(next: () => StateFile): Promise<void> {
    const run = this.#queue.then(async () => {
      const state = next();
      await writeFileAtomic(this.#path, `${JSON.stringify(state, null, 2)}\n`);
      this.#state = state;
      for (const l of this.#listeners) l();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function toNodeService(s: AgentService): NodeService {
  return {
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags,
    Address: s.Address,
    ...(s.TaggedAddresses ? { TaggedAddresses: s.TaggedAddresses } : {}),
    Meta: s.Meta,
    Port: s.Port,
    Weights: s.Weights,
    EnableTagOverride: s.EnableTagOverride,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

export function toHealthCheck(c: AgentCheck, node: string, s?: AgentService): HealthCheck {
  return {
    Node: node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: s?.Tags ?? [],
    Type: c.Type,
    Interval: c.Interval,
    Timeout: c.Timeout,
    CreateIndex: c.ModifyIndex,
    ModifyIndex: c.ModifyIndex,
  };
}

/** The source catalog plus agent registrations (an agent ID that collides on the same node replaces nothing: both stay). */
export function mergeAgentInstances(catalog: ConsulCatalog, instances: readonly ConsulInstance[]): ConsulCatalog {
  if (instances.length === 0) return catalog;
  const services = new Map<string, ConsulService>(catalog.services);
  const nodes = new Map(catalog.nodes);
  const grouped = new Map<string, ConsulInstance[]>();
  for (const i of instances) {
    if (!nodes.has(i.node.Node)) nodes.set(i.node.Node, i.node);
    const key = i.service.Service.toLowerCase();
    const list = grouped.get(key);
    if (list) list.push(i);
    else grouped.set(key, [i]);
  }
  for (const [key, added] of grouped) {
    const existing = services.get(key);
    const all = [...(existing?.instances ?? []), ...added].sort(
      (a, b) => (a.node.Node < b.node.Node ? -1 : a.node.Node > b.node.Node ? 1 : a.service.ID < b.service.ID ? -1 : a.service.ID > b.service.ID ? 1 : 0),
    );
    services.set(key, { name: existing?.name ?? added[0]!.service.Service, instances: all });
  }
  return { nodes, services, nodeChecks: catalog.nodeChecks };
}
