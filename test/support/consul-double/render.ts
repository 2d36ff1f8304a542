// Consul's JSON shapes (agent/structs, Consul 1.17+ CE field order) for the records the double keeps.

import { sortedMap } from './json.ts';
import type { CheckRecord, KvRecord, NodeRecord, ServiceAddress, ServiceRecord } from './types.ts';

const PROXY = (): unknown => ({ Mode: '', MeshGateway: {}, Expose: {} });

function taggedServiceAddresses(m: Readonly<Record<string, ServiceAddress>> | null): Record<string, ServiceAddress> | undefined {
  const sorted = sortedMap(m);
  if (!sorted || Object.keys(sorted).length === 0) return undefined;
  const out: Record<string, ServiceAddress> = {};
  for (const [k, v] of Object.entries(sorted)) out[k] = { Address: v.Address, Port: v.Port };
  return out;
}

export function renderNode(n: NodeRecord, datacenter: string): Record<string, unknown> {
  return {
    ID: n.id,
    Node: n.name,
    Address: n.address,
    Datacenter: datacenter,
    TaggedAddresses: sortedMap(n.taggedAddresses),
    Meta: sortedMap(n.meta),
    CreateIndex: n.createIndex,
    ModifyIndex: n.modifyIndex,
  };
}

/** structs.NodeService: Port and TaggedAddresses are omitted when empty. */
export function renderNodeService(s: ServiceRecord): Record<string, unknown> {
  const tagged = taggedServiceAddresses(s.taggedAddresses);
  return {
    ID: s.id,
    Service: s.name,
    Tags: [...s.tags],
    Address: s.address,
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Meta: sortedMap(s.meta),
    ...(s.port !== 0 ? { Port: s.port } : {}),
    Weights: { Passing: s.weights.Passing, Warning: s.weights.Warning },
    EnableTagOverride: s.enableTagOverride,
    Proxy: PROXY(),
    Connect: {},
    PeerName: '',
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

/** structs.ServiceNode, the element of /v1/catalog/service/:s. */
export function renderServiceNode(n: NodeRecord, s: ServiceRecord, datacenter: string): Record<string, unknown> {
  const tagged = taggedServiceAddresses(s.taggedAddresses);
  return {
    ID: n.id,
    Node: n.name,
    Address: n.address,
    Datacenter: datacenter,
    TaggedAddresses: sortedMap(n.taggedAddresses),
    NodeMeta: sortedMap(n.meta),
    ServiceKind: '',
    ServiceID: s.id,
    ServiceName: s.name,
    ServiceTags: [...s.tags],
    ServiceAddress: s.address,
    ...(tagged ? { ServiceTaggedAddresses: tagged } : {}),
    ServiceWeights: { Passing: s.weights.Passing, Warning: s.weights.Warning },
    ServiceMeta: sortedMap(s.meta),
    ServicePort: s.port,
    ServiceSocketPath: '',
    ServiceEnableTagOverride: s.enableTagOverride,
    ServiceProxy: PROXY(),
    ServiceConnect: {},
    ServiceLocality: null,
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

/** structs.HealthCheck. */
export function renderCheck(c: CheckRecord): Record<string, unknown> {
  return {
    Node: c.node,
    CheckID: c.checkId,
    Name: c.name,
    Status: c.status,
    Notes: c.notes,
    Output: c.output,
    ServiceID: c.serviceId,
    ServiceName: c.serviceName,
    ServiceTags: [...c.serviceTags],
    Type: c.type,
    Interval: c.interval,
    Timeout: c.timeout,
    ExposedPort: 0,
    Definition: {},
    CreateIndex: c.createIndex,
    ModifyIndex: c.modifyIndex,
  };
}

/** structs.CheckServiceNode, the element of /v1/health/service/:s. */
export function renderCheckServiceNode(n: NodeRecord, s: ServiceRecord, checks: readonly CheckRecord[], datacenter: string): Record<string, unknown> {
  return { Node: renderNode(n, datacenter), Service: renderNodeService(s), Checks: checks.map(renderCheck) };
}

/** api.AgentService, the value type of /v1/agent/services. */
export function renderAgentService(s: ServiceRecord, datacenter: string): Record<string, unknown> {
  const tagged = taggedServiceAddresses(s.taggedAddresses);
  return {
    ID: s.id,
    Service: s.name,
    Tags: [...s.tags],
    Meta: sortedMap(s.meta) ?? {},
    Port: s.port,
    Address: s.address,
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Weights: { Passing: s.weights.Passing, Warning: s.weights.Warning },
    EnableTagOverride: s.enableTagOverride,
    Datacenter: datacenter,
  };
}

/** structs.DirEntry: Value is base64 (null for an empty value). */
export function renderKv(e: KvRecord): Record<string, unknown> {
  return {
    LockIndex: e.lockIndex,
    Key: e.key,
    Flags: e.flags,
    Value: e.value && e.value.length > 0 ? e.value.toString('base64') : null,
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  };
}
