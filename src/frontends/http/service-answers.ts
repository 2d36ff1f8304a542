// Endpoints answered per caller: catalog/service, health/service, health/checks. Each goes
// through Lookups.lookup, so the kill-switch, pins, Sidecar gate and observations apply.

import type { ConsulInstance } from '../../world/consul-types.ts';
import { aggregateStatus } from '../../world/consul-types.ts';
import type { LookupResult } from '../../lookup/lookup.ts';
import { compileFilter } from './filter.ts';
import type { ReadOptions } from './params.ts';
import { shapeKey } from './params.ts';
import type { HttpDeps, ReadEndpoint } from './read-handler.ts';
import {
  CHECK_FIELDS,
  CHECK_SERVICE_NODE_FIELDS,
  SERVICE_NODE_FIELDS,
  goJson,
  renderCheck,
  renderCheckServiceNode,
  renderServiceNode,
} from './render.ts';

export type ServiceRoute = 'catalog-service' | 'health-service' | 'health-checks';

function matchesTags(i: ConsulInstance, tags: readonly string[]): boolean {
  // AND over the requested tags, each matched case-insensitively (Consul's state store lower-cases both).
  for (const t of tags) if (!i.service.Tags.some((x) => x.toLowerCase() === t)) return false;
  return true;
}

function matchesNodeMeta(i: ConsulInstance, meta: ReadOptions['nodeMeta']): boolean {
  for (const [k, v] of meta) if (i.node.Meta?.[k] !== v) return false;
  return true;
}

/**
 * Consul's instances filtered by tag, node-meta and ?passing; or, when the caller gets the mesh
 * answer, the one synthetic instance — offered when at least one of Consul's instances matches the
 * tag and node-meta selection (the ClusterIP stands for the whole service; subsets are Istio's job).
 */
export function selectInstances(r: LookupResult, o: ReadOptions, passing: boolean): readonly ConsulInstance[] {
  const consul = r.service?.instances ?? [];
  const selected = (i: ConsulInstance) => matchesTags(i, o.tags) && matchesNodeMeta(i, o.nodeMeta);
  if (r.decision.route === 'mesh') {
    if (o.tags.length === 0 && o.nodeMeta.length === 0) return r.instances;
    return consul.some(selected) ? r.instances : [];
  }
  if (o.tags.length === 0 && o.nodeMeta.length === 0 && !passing) return consul;
  return consul.filter((i) => selected(i) && (!passing || aggregateStatus(i.checks) === 'passing'));
}

function renderList(items: unknown[], o: ReadOptions, fields: ReadonlySet<string>): string {
  const kept = o.filter === '' ? items : items.filter(compileFilter(o.filter, fields));
  return goJson(kept, o.pretty);
}

function buildBody(route: ServiceRoute, r: LookupResult, o: ReadOptions, passing: boolean): string {
  const instances = selectInstances(r, o, passing);
  switch (route) {
    case 'health-service':
      return renderList(instances.map(renderCheckServiceNode), o, CHECK_SERVICE_NODE_FIELDS);
    case 'catalog-service':
      return renderList(instances.map(renderServiceNode), o, SERVICE_NODE_FIELDS);
    case 'health-checks':
      return renderList(instances.flatMap((i) => i.checks.filter((c) => c.ServiceID !== '').map(renderCheck)), o, CHECK_FIELDS);
  }
}

/**
 * @param passing parsed ?passing, or an Error to report once the (possible) wait is over,
 *   as Consul validates it only after the blocking RPC returns.
 */
export function serviceEndpoint(deps: HttpDeps, route: ServiceRoute, callerIp: string, name: string, o: ReadOptions, passing: boolean | Error): ReadEndpoint {
  const { lookups, world } = deps.ctx;
  const key = name.toLowerCase();
  const slotConsul = `${route}\0${key}\0${passing instanceof Error ? '!' : shapeKey(o, passing)}`;
  const slotMesh = `${slotConsul}\0mesh`;
  const subsetByConsul = o.tags.length > 0 || o.nodeMeta.length > 0;
  return {
    service: key,
    callerIp,
    evaluate(observe) {
      const r = lookups.lookup(callerIp, name, 'http', observe);
      // A mesh answer narrowed by tags also depends on Consul's instances.
      const version = r.decision.route === 'mesh' && subsetByConsul ? `${r.contentVersion}/c${world.consul(key)}` : r.contentVersion;
      return {
        index: r.index,
        // Mesh and Consul answers get separate slots, so callers of both kinds do not evict each other.
        slot: r.decision.route === 'mesh' ? slotMesh : slotConsul,
        version,
        build: () => {
          if (passing instanceof Error) throw passing;
          return buildBody(route, r, o, passing);
        },
      };
    },
    index: () => lookups.index(lookups.caller(callerIp), key),
  };
}
