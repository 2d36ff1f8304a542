// Consul's JSON shapes (agent/structs, Consul 1.17 CE) built from the world's types, and Go's
// encoding/json output rules: struct fields in declaration order, map keys sorted, `<>&` and
// U+2028/2029 escaped, compact by default, `?pretty` as 4-space indent plus a newline.

import type { ConsulInstance, ConsulNode, HealthCheck, NodeService } from '../../world/consul-types.ts';

type Json = unknown;

/** Go sorts map keys when encoding; JS keeps insertion order, so copy into sorted order. */
export function sortedMap<V>(m: Readonly<Record<string, V>> | null | undefined): Record<string, V> | null {
  if (m === null || m === undefined) return null;
  const keys = Object.keys(m).sort();
  const out: Record<string, V> = {};
  for (const k of keys) out[k] = m[k]!;
  return out;
}

const GO_ESCAPES = /[<>&\u2028\u2029]/g;
const GO_ESCAPE: Readonly<Record<string, string>> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** Serializes as Go's encoding/json would. These characters can only occur inside strings, so a global replace is exact. */
export function goJson(value: Json, pretty: boolean): string {
  const text = pretty ? `${JSON.stringify(value, null, 4)}\n` : JSON.stringify(value);
  return text.replace(GO_ESCAPES, (c) => GO_ESCAPE[c]!);
}

export function renderNode(n: ConsulNode): Json {
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: sortedMap(n.TaggedAddresses),
    Meta: sortedMap(n.Meta),
    CreateIndex: n.CreateIndex,
    ModifyIndex: n.ModifyIndex,
  };
}

function taggedServiceAddresses(s: NodeService): Json {
  const m = sortedMap(s.TaggedAddresses);
  if (!m) return undefined;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(m)) out[k] = { Address: v.Address, Port: v.Port };
  return out;
}

/** NodeService as health/service and catalog/node render it: Port and TaggedAddresses omitted when empty. */
export function renderNodeService(s: NodeService): Json {
  const tagged = s.TaggedAddresses && Object.keys(s.TaggedAddresses).length > 0 ? taggedServiceAddresses(s) : undefined;
  return {
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags ?? [],
    Address: s.Address,
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Meta: sortedMap(s.Meta),
    ...(s.Port !== 0 ? { Port: s.Port } : {}),
    Weights: { Passing: s.Weights.Passing, Warning: s.Weights.Warning },
    EnableTagOverride: s.EnableTagOverride,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
    PeerName: '',
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

export function renderCheck(c: HealthCheck): Json {
  return {
    Node: c.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: c.ServiceTags ?? [],
    Type: c.Type,
    Interval: c.Interval,
    Timeout: c.Timeout,
    ExposedPort: 0,
    Definition: {},
    CreateIndex: c.CreateIndex,
    ModifyIndex: c.ModifyIndex,
  };
}

/** Element of /v1/health/service/:s. */
export function renderCheckServiceNode(i: ConsulInstance): Json {
  return { Node: renderNode(i.node), Service: renderNodeService(i.service), Checks: i.checks.map(renderCheck) };
}

/** Element of /v1/catalog/service/:s. */
export function renderServiceNode(i: ConsulInstance): Json {
  const n = i.node;
  const s = i.service;
  const tagged = s.TaggedAddresses && Object.keys(s.TaggedAddresses).length > 0 ? taggedServiceAddresses(s) : undefined;
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: sortedMap(n.TaggedAddresses),
    NodeMeta: sortedMap(n.Meta),
    ServiceKind: '',
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: s.Tags ?? [],
    ServiceAddress: s.Address,
    ...(tagged ? { ServiceTaggedAddresses: tagged } : {}),
    ServiceWeights: { Passing: s.Weights.Passing, Warning: s.Weights.Warning },
    ServiceMeta: sortedMap(s.Meta),
    ServicePort: s.Port,
    ServiceSocketPath: '',
    ServiceEnableTagOverride: s.EnableTagOverride,
    ServiceProxy: { Mode: '', MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    ServiceLocality: null,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

/** AgentService (/v1/agent/services values). */
export function renderAgentService(s: NodeService, datacenter: string): Json {
  const tagged = s.TaggedAddresses && Object.keys(s.TaggedAddresses).length > 0 ? taggedServiceAddresses(s) : undefined;
  return {
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags ?? [],
    Meta: sortedMap(s.Meta) ?? {},
    Port: s.Port,
    Address: s.Address,
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Weights: { Passing: s.Weights.Passing, Warning: s.Weights.Warning },
    EnableTagOverride: s.EnableTagOverride,
    Datacenter: datacenter,
  };
}

/** Top-level selectors ?filter accepts, per body element shape. */
export const SERVICE_NODE_FIELDS: ReadonlySet<string> = new Set([
  'ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'NodeMeta', 'ServiceKind', 'ServiceID', 'ServiceName', 'ServiceTags',
  'ServiceAddress', 'ServiceTaggedAddresses', 'ServiceWeights', 'ServiceMeta', 'ServicePort', 'ServiceSocketPath',
  'ServiceEnableTagOverride', 'ServiceProxy', 'ServiceConnect',
]);
export const CHECK_SERVICE_NODE_FIELDS: ReadonlySet<string> = new Set(['Node', 'Service', 'Checks']);
export const NODE_FIELDS: ReadonlySet<string> = new Set(['ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'Meta']);
export const CHECK_FIELDS: ReadonlySet<string> = new Set(['Node', 'CheckID', 'Name', 'Status', 'Notes', 'Output', 'ServiceID', 'ServiceName', 'ServiceTags', 'Type']);
export const AGENT_SERVICE_FIELDS: ReadonlySet<string> = new Set(['Kind', 'ID', 'Service', 'Tags', 'Meta', 'Port', 'Address', 'TaggedAddresses', 'Weights', 'EnableTagOverride', 'Datacenter']);
