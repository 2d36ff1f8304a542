// Endpoints answered per caller: catalog/service, health/service, health/checks. Each goes
// through Lookups.lookup, so the kill-switch, pins, Sidecar gate and observations apply.

import type { ConsulInstance } from '../../world/consul-types.ts';
import { aggregateStatus } from '../../world/consul-types.ts';
import type { LookupResult } from '../../lookup/lookup.ts';
import { compileFilter } from './filter.ts';
import type { ReadOptions } from './params.ts';
import { shapeKey } from './params.ts';
import type { Answer, HttpDeps, ReadEndpoint } from './read-handler.ts';
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
  const selected = (i: ConsulInstance): boolean => matchesTags(i, o.tags) && matchesNodeMeta(i, o.nodeMeta);
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

/** One evaluation of a service endpoint; `build` serializes it on a cache miss. */
class ServiceAnswer implements Answer {
  readonly index: number;
  readonly slot: string;
  readonly version: number | string;
  readonly #ep: ServiceEndpoint;
  readonly result: LookupResult;

  constructor(ep: ServiceEndpoint, r: LookupResult, slot: string, version: number | string) {
    this.#ep = ep;
    this.result = r;
    this.index = r.index;
    this.slot = slot;
    this.version = version;
  }

  build(): string {
    const ep = this.#ep;
    if (ep.passing instanceof Error) throw ep.passing;
    return buildBody(ep.route, this.result, ep.options, ep.passing);
  }
}

/**
 * A per-caller service read. A class rather than closures: it is created for every request, and
 * per-request function objects are measurable at this rate.
 */
export class ServiceEndpoint implements ReadEndpoint {
  readonly service: string;
  readonly callerIp: string;
  readonly route: ServiceRoute;
  readonly options: ReadOptions;
  /** Parsed ?passing, or the error to report once the (possible) wait is over: Consul validates it after the blocking RPC. */
  readonly passing: boolean | Error;
  readonly #deps: HttpDeps;
  readonly #name: string;
  readonly #slotConsul: string;
  readonly #slotMesh: string;
  readonly #subsetByConsul: boolean;
  #shareKey: string | null | undefined;

  constructor(deps: HttpDeps, route: ServiceRoute, callerIp: string, name: string, o: ReadOptions, passing: boolean | Error) {
    this.#deps = deps;
    this.route = route;
    this.callerIp = callerIp;
    this.#name = name;
    this.service = name.toLowerCase();
    this.options = o;
    this.passing = passing;
    this.#slotConsul = `${route}\0${this.service}\0${passing instanceof Error ? '!' : shapeKey(o, passing)}`;
    this.#subsetByConsul = o.tags.length > 0 || o.nodeMeta.length > 0;
    this.#slotMesh = `${this.#slotConsul}\0mesh`;
  }

  /**
   * Same caller IP and same Consul slot (route, service, body-shaping options): the same index and
   * the same body. Not shared when ?passing is invalid: each query reports its own error. Built
   * once, when the query parks (requests answered at once never need it).
   */
  get shareKey(): string | null {
    this.#shareKey ??= this.passing instanceof Error ? null : `${this.callerIp}\0${this.#slotConsul}`;
    return this.#shareKey;
  }

  evaluate(observe: boolean, index?: number): Answer {
    const r = this.#deps.ctx.lookups.lookup(this.callerIp, this.#name, 'http', observe, index);
    if (r.decision.route !== 'mesh') return new ServiceAnswer(this, r, this.#slotConsul, r.contentVersion);
    // Mesh and Consul answers get separate slots, so callers of both kinds do not evict each other;
    // a mesh answer narrowed by tags also depends on Consul's instances.
    const version = this.#subsetByConsul ? `${r.contentVersion}/c${this.#deps.ctx.world.consul(this.service)}` : r.contentVersion;
    return new ServiceAnswer(this, r, this.#slotMesh, version);
  }

  index(): number {
    return this.#deps.ctx.lookups.index(this.callerIp, this.service);
  }

  countShared(a: Answer): void {
    this.#deps.ctx.lookups.countRepeat((a as ServiceAnswer).result, 'http');
  }
}

export function serviceEndpoint(deps: HttpDeps, route: ServiceRoute, callerIp: string, name: string, o: ReadOptions, passing: boolean | Error): ServiceEndpoint {
  return new ServiceEndpoint(deps, route, callerIp, name, o, passing);
}
