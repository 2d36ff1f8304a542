// Upstream answers converted to the world's types at the edge, with validation: a field of the
// wrong type or a required one missing is a MalformedAnswer naming its path, never a half-filled
// value. Consul's defaults are filled the way src/sources/consul/catalog-build.ts fills them for a
// snapshot, field for field and in the same property order, so the same registrations answer the
// same bytes whichever path they came by. Fields Discovery does not serve are ignored.

import type { CheckStatus, ConsulInstance, ConsulNode, HealthCheck, NodeService, ServiceAddress } from '../../world/consul-types.ts';
import { compareInstances } from '../../world/consul-types.ts';
import { compareStrings } from '../../platform/compare.ts';
import type { Obj } from '../shape.ts';
import type { ListedService } from './catalog-model.ts';
import { ShapeError, describe, fail, field, item, name, object, optArray, optBool, optInt, optObject, optStr, optStringList, optStringMap, str } from '../shape.ts';

/** An answer that cannot be used: not JSON, wrong shape, a bad or missing index header. */
export class MalformedAnswer extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedAnswer';
  }
}

const MAX_INDEX = Number.MAX_SAFE_INTEGER;
const STATUSES: ReadonlySet<string> = new Set(['passing', 'warning', 'critical']);

/** X-Consul-Index: a non-negative integer. */
export function readIndex(header: string | null): number {
  if (header === null) throw new MalformedAnswer('no X-Consul-Index header');
  const text = header.trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new MalformedAnswer(`X-Consul-Index header ${JSON.stringify(header.slice(0, 40))} is not a number`);
  return n;
}

export function readJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    const snippet = body.trim().slice(0, 40);
    throw new MalformedAnswer(`body is not JSON (${err instanceof Error ? err.message : String(err)}; starts with ${JSON.stringify(snippet)})`);
  }
}

/** Run a shape reader; its ShapeError becomes a MalformedAnswer. */
function shaped<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ShapeError) throw new MalformedAnswer(err.message);
    throw err;
  }
}

function list(v: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(v)) throw new MalformedAnswer(`expected ${what} (a JSON array), got ${describe(v)}`);
  return v as readonly unknown[];
}

function raftIndex(o: Obj, key: string, path: string): number {
  return optInt(o, key, path, 0, MAX_INDEX) ?? 0;
}

/** Datacenter the answers are converted into, and the first other one the upstream named (null: none). */
export class Conversion {
  readonly datacenter: string;
  foreignDatacenter: string | null = null;

  constructor(datacenter: string) {
    this.datacenter = datacenter;
  }

  node(v: unknown, path: string): ConsulNode {
    const o = object(v, path);
    const dc = optStr(o, 'Datacenter', path);
    if (dc !== undefined && dc !== '' && dc.toLowerCase() !== this.datacenter.toLowerCase()) this.foreignDatacenter ??= dc;
    return {
      ID: optStr(o, 'ID', path) ?? '',
      Node: name(o, 'Node', path),
      Address: str(o, 'Address', path),
      Datacenter: this.datacenter,
      TaggedAddresses: optStringMap(o, 'TaggedAddresses', path) ?? null,
      Meta: optStringMap(o, 'Meta', path) ?? null,
      CreateIndex: raftIndex(o, 'CreateIndex', path),
      ModifyIndex: raftIndex(o, 'ModifyIndex', path),
    };
  }
}

/** GET /v1/catalog/services: lower-cased name → the name as listed and its tags (serialized). */
export function readServiceList(v: unknown): Map<string, ListedService> {
  return shaped(() => {
    const o = object(v, 'body');
    const out = new Map<string, ListedService>();
    for (const [svc, tags] of Object.entries(o)) {
      if (svc === '') fail('body', 'has a service with an empty name');
      if (tags !== null && !Array.isArray(tags)) fail(field('body', svc), `must be a list of tags, got ${describe(tags)}`);
      const key = svc.toLowerCase();
      if (!out.has(key)) out.set(key, { name: svc, tags: JSON.stringify(tags ?? []) });
    }
    return out;
  });
}

/**
 * GET /v1/internal/ui/services (the summary the Consul UI lists): lower-cased name → the entry as
 * sent, serialized. Any field that moves (instance count, nodes, tags, check counts) names the
 * service; the whole entry is compared, so fields a Consul version adds or lacks do not matter.
 * Services imported from a cluster peer (PeerName set) are not part of the local catalog.
 */
export function readServiceSummaries(v: unknown): Map<string, string> {
  return shaped(() => {
    const out = new Map<string, string>();
    list(v, 'service summaries').forEach((entry, i) => {
      const path = item('body', i);
      const o = object(entry, path);
      const svc = name(o, 'Name', path);
      const peer = optStr(o, 'PeerName', path);
      if (peer !== undefined && peer !== '') return;
      out.set(svc.toLowerCase(), JSON.stringify(entry));
    });
    return out;
  });
}

/** One check as the health detector sees it. */
export interface CheckState {
  readonly node: string;
  readonly checkId: string;
  readonly status: string;
  /** '' for a node-level check. */
  readonly serviceId: string;
  readonly serviceName: string;
}

/** GET /v1/health/state/any (filtered): the checks listed. */
export function readCheckStates(v: unknown): CheckState[] {
  return shaped(() =>
    list(v, 'a list of health checks').map((c, i) => {
      const path = item('', i);
      const o = object(c, path);
      return {
        node: name(o, 'Node', path),
        checkId: name(o, 'CheckID', path),
        status: str(o, 'Status', path),
        serviceId: optStr(o, 'ServiceID', path) ?? '',
        serviceName: optStr(o, 'ServiceName', path) ?? '',
      };
    }),
  );
}

/** GET /v1/catalog/nodes. */
export function readNodes(v: unknown, conv: Conversion): ConsulNode[] {
  return shaped(() => list(v, 'a list of nodes').map((n, i) => conv.node(n, item('', i))));
}

/** GET /v1/catalog/node-services/:node: the names of the services on the node (none when the node is gone). */
export function readNodeServiceNames(v: unknown): string[] {
  return shaped(() => {
    const o = object(v, 'body');
    if (o['Node'] === null || o['Node'] === undefined) return [];
    const services = optArray(o, 'Services', 'body') ?? [];
    return services.map((s, i) => name(object(s, item('Services', i)), 'Service', item('Services', i)));
  });
}

function readServiceAddresses(o: Obj, path: string): Record<string, ServiceAddress> | undefined {
  const m = optObject(o, 'TaggedAddresses', path);
  if (!m) return undefined;
  const out: Record<string, ServiceAddress> = {};
  for (const [k, v] of Object.entries(m)) {
    const p = field(field(path, 'TaggedAddresses'), k);
    const a = object(v, p);
    out[k] = { Address: str(a, 'Address', p), Port: optInt(a, 'Port', p, 0, 65535) ?? 0 };
  }
  return out;
}

function readService(v: unknown, path: string): { service: NodeService; kind: string } {
  const o = object(v, path);
  const tagged = readServiceAddresses(o, path);
  const weights = optObject(o, 'Weights', path);
  const wp = field(path, 'Weights');
  const service: NodeService = {
    ID: name(o, 'ID', path),
    Service: name(o, 'Service', path),
    Tags: optStringList(o, 'Tags', path) ?? [],
    Address: optStr(o, 'Address', path) ?? '',
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Meta: optStringMap(o, 'Meta', path) ?? {},
    Port: optInt(o, 'Port', path, 0, 65535) ?? 0,
    Weights: weights ? { Passing: optInt(weights, 'Passing', wp, 0, 65535) ?? 1, Warning: optInt(weights, 'Warning', wp, 0, 65535) ?? 1 } : { Passing: 1, Warning: 1 },
    EnableTagOverride: optBool(o, 'EnableTagOverride', path) ?? false,
    CreateIndex: raftIndex(o, 'CreateIndex', path),
    ModifyIndex: raftIndex(o, 'ModifyIndex', path),
  };
  return { service, kind: optStr(o, 'Kind', path) ?? '' };
}

function readCheck(v: unknown, path: string, nodeName: string): HealthCheck {
  const o = object(v, path);
  const status = str(o, 'Status', path);
  // Consul's catalog stores a check registered without a status as critical.
  if (status !== '' && !STATUSES.has(status)) fail(field(path, 'Status'), `must be passing, warning or critical, got ${JSON.stringify(status)}`);
  const def = optObject(o, 'Definition', path);
  const fromDefinition = (key: string): string | undefined => (def && typeof def[key] === 'string' ? def[key] : undefined);
  return {
    Node: optStr(o, 'Node', path) || nodeName,
    CheckID: name(o, 'CheckID', path),
    Name: optStr(o, 'Name', path) ?? '',
    Status: (status === '' ? 'critical' : status) as CheckStatus,
    Notes: optStr(o, 'Notes', path) ?? '',
    Output: optStr(o, 'Output', path) ?? '',
    ServiceID: optStr(o, 'ServiceID', path) ?? '',
    ServiceName: optStr(o, 'ServiceName', path) ?? '',
    ServiceTags: optStringList(o, 'ServiceTags', path) ?? [],
    Type: optStr(o, 'Type', path) ?? '',
    Interval: optStr(o, 'Interval', path) ?? fromDefinition('Interval') ?? '',
    Timeout: optStr(o, 'Timeout', path) ?? fromDefinition('Timeout') ?? '',
    CreateIndex: raftIndex(o, 'CreateIndex', path),
    ModifyIndex: raftIndex(o, 'ModifyIndex', path),
  };
}

/** Node-level checks first, then the service's own, each by CheckID as Consul's index orders them (lower-cased). */
function checkOrder(a: HealthCheck, b: HealthCheck): number {
  const levelA = a.ServiceID === '' ? 0 : 1;
  const levelB = b.ServiceID === '' ? 0 : 1;
  return levelA - levelB || compareStrings(a.CheckID.toLowerCase(), b.CheckID.toLowerCase()) || compareStrings(a.CheckID, b.CheckID);
}

export interface ServiceRead {
  /** In Consul's order (compareInstances). */
  readonly instances: ConsulInstance[];
  /** Instances of a non-plain kind (Connect proxies, gateways): not served, as in the snapshot path. */
  readonly skipped: number;
}

/** GET /v1/health/service/:name. */
export function readServiceInstances(v: unknown, conv: Conversion): ServiceRead {
  return shaped(() => {
    const instances: ConsulInstance[] = [];
    let skipped = 0;
    list(v, 'a list of service instances').forEach((e, i) => {
      const path = item('', i);
      const o = object(e, path);
      const node = conv.node(o['Node'], field(path, 'Node'));
      const { service, kind } = readService(o['Service'], field(path, 'Service'));
      const checks = (optArray(o, 'Checks', path) ?? []).map((c, j) => readCheck(c, item(field(path, 'Checks'), j), node.Node));
      if (kind !== '') {
        skipped++;
        return;
      }
      instances.push({ node, service, checks: checks.sort(checkOrder) });
    });
    return { instances: instances.sort(compareInstances), skipped };
  });
}

/** GET /v1/health/node/:node: the node-level checks (those of its services come with the services). */
export function readNodeLevelChecks(v: unknown, nodeName: string): HealthCheck[] {
  return shaped(() =>
    list(v, 'a list of health checks')
      .map((c, i) => readCheck(c, item('', i), nodeName))
      .filter((c) => c.ServiceID === '')
      .sort(checkOrder),
  );
}
