// Ordered views of the catalog, as memdb iterates its indexes: instances by node name then
// service ID, checks by node then check ID, a node's checks before an instance's own.

import type { AgentState } from './agent-state.ts';
import type { CheckRecord, NodeRecord, ServiceRecord } from './types.ts';

export interface Instance {
  readonly node: NodeRecord;
  readonly service: ServiceRecord;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function byName<T>(items: Iterable<T>, key: (t: T) => string): T[] {
  return [...items].sort((a, b) => cmp(key(a).toLowerCase(), key(b).toLowerCase()) || cmp(key(a), key(b)));
}

export function serviceInstances(state: AgentState, service: string): Instance[] {
  const group = state.catalog.instances(service);
  if (!group) return [];
  const out: Instance[] = [];
  for (const svc of group.values()) {
    const node = state.catalog.node(svc.node);
    if (node) out.push({ node, service: svc });
  }
  return out.sort((a, b) => cmp(a.node.name.toLowerCase(), b.node.name.toLowerCase()) || cmp(a.service.id, b.service.id));
}

/** The checks /v1/health/service shows with an instance: its node's checks, then its own. */
export function instanceChecks(node: NodeRecord, serviceId: string): CheckRecord[] {
  const nodeChecks: CheckRecord[] = [];
  const own: CheckRecord[] = [];
  for (const c of node.checks.values()) {
    if (c.serviceId === '') nodeChecks.push(c);
    else if (c.serviceId === serviceId) own.push(c);
  }
  const byId = (a: CheckRecord, b: CheckRecord): number => cmp(a.checkId, b.checkId);
  return [...nodeChecks.sort(byId), ...own.sort(byId)];
}

export function nodeChecks(node: NodeRecord): CheckRecord[] {
  return [...node.checks.values()].sort((a, b) => cmp(a.checkId, b.checkId));
}

export function allNodes(state: AgentState): NodeRecord[] {
  return byName(state.catalog.nodes.values(), (n) => n.name);
}

/** Every instance of every service (for /v1/catalog/services with a filter or node-meta). */
export function allInstances(state: AgentState): Instance[] {
  const out: Instance[] = [];
  for (const node of allNodes(state)) for (const svc of byName(node.services.values(), (s) => s.id)) out.push({ node, service: svc });
  return out;
}

const tagCache = new WeakMap<object, { version: number; tags: ReadonlyMap<string, readonly string[]> }>();

/** Service name → de-duplicated sorted tags, rebuilt only when the service set changed. */
export function serviceTags(state: AgentState): ReadonlyMap<string, readonly string[]> {
  const cached = tagCache.get(state.catalog);
  if (cached && cached.version === state.catalog.servicesVersion) return cached.tags;
  const sets = new Map<string, Set<string>>();
  for (const group of state.catalog.byService.values()) {
    for (const svc of group.values()) {
      let set = sets.get(svc.name);
      if (!set) sets.set(svc.name, (set = new Set()));
      for (const t of svc.tags) set.add(t);
    }
  }
  const tags = new Map<string, readonly string[]>();
  for (const name of [...sets.keys()].sort()) tags.set(name, [...sets.get(name)!].sort());
  tagCache.set(state.catalog, { version: state.catalog.servicesVersion, tags });
  return tags;
}
