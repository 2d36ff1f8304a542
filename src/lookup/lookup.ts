// One lookup = (who asked, what for) -> decision + the data to answer with + the index.
// Shared by the HTTP and DNS front ends so both answer identically; records observations.

import { isIPv4 } from 'node:net';
import type { Decision, Mode } from '../decision/decide.ts';
import { decide } from '../decision/decide.ts';
import type { ControlStore } from '../control/control-store.ts';
import type { ConsulInstance, ConsulService } from '../world/consul-types.ts';
import type { Caller, MeshTarget } from '../world/world.ts';
import type { WorldStore } from '../world/store.ts';
import type { SidecarGate } from '../gate/gate.ts';
import { meshInstance } from './mesh-instance.ts';
import type { ServicePopularity } from './service-popularity.ts';

export type FrontEnd = 'http' | 'dns';

export interface Observation {
  readonly caller: Caller;
  readonly service: string;
  readonly target: MeshTarget;
  readonly via: FrontEnd;
}

export interface LookupObserver {
  observe(o: Observation): void;
}

/** Sidecar scoping off: lookups are not recorded. */
export const NO_OBSERVER: LookupObserver = { observe: () => undefined };

export interface LookupCounters {
  count(via: FrontEnd, decision: Decision): void;
}

export interface LookupResult extends RouteResult {
  /** X-Consul-Index for this caller and service. */
  readonly index: number;
}

/** A lookup's decision and answer data, without the index (what a DNS answer needs). */
export interface RouteResult {
  /** Lower-cased service name. */
  readonly key: string;
  readonly caller: Caller | null;
  readonly decision: Decision;
  /** Consul's data for the service (undefined: Consul does not know it). */
  readonly service: ConsulService | undefined;
  readonly target: MeshTarget | undefined;
  /** The instances to answer with: Consul's, or the one synthetic mesh instance. */
  readonly instances: readonly ConsulInstance[];
  /**
   * Version of `instances`, the same for every caller that gets the same instances: the index of
   * Consul's data for the service, or minus the index of its mesh facts for the synthetic
   * instance (indexes are never 0, so the two never collide). A number: compared per request.
   */
  readonly contentVersion: number;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; Node reports IPv4 peers that way on dual-stack sockets. */
export function normalizeIp(ip: string): string {
  if (ip.startsWith('::ffff:')) {
    const v4 = ip.slice(7);
    if (isIPv4(v4)) return v4;
  }
  return ip.toLowerCase();
}

export interface LookupDeps {
  readonly world: WorldStore;
  readonly control: ControlStore;
  readonly gate: SidecarGate;
  readonly observer: LookupObserver;
  readonly counters: LookupCounters;
  readonly datacenter: string;
  /** Counts lookups per known service (live mode: ranks the upstream source's per-service watches). */
  readonly popularity?: ServicePopularity;
}

const EMPTY: readonly ConsulInstance[] = [];

export class Lookups {
  readonly #deps: LookupDeps;
  /** Synthetic mesh instances, rebuilt only when a target's mesh facts change. */
  readonly #meshCache = new Map<string, { index: number; instances: readonly ConsulInstance[] }>();

  constructor(deps: LookupDeps) {
    this.#deps = deps;
  }

  get mode(): Mode {
    return this.#deps.control.mode;
  }

  caller(sourceIp: string): Caller | null {
    return this.#deps.world.current.callers.get(normalizeIp(sourceIp)) ?? null;
  }

  /**
   * Index for a caller (or a source IP) and a service, without deciding: max of every stamp that can
   * change the answer. The IP's own stamp counts even when no Pod has it any more: a caller that
   * vanishes changes the answer (back to HAProxy), so its index must rise, not fall (invariant 6,
   * docs/invariants.md).
   */
  index(source: Caller | string | null, key: string): number {
    if (typeof source !== 'string') return this.#index(source, source?.ip, key);
    const ip = normalizeIp(source);
    return this.#index(this.#deps.world.current.callers.get(ip) ?? null, ip, key);
  }

  #index(caller: Caller | null, ip: string | undefined, key: string): number {
    const w = this.#deps.world;
    let idx = Math.max(w.consul(key), w.mesh(key), w.freshness, this.#deps.control.index(key));
    if (ip !== undefined) idx = Math.max(idx, w.caller(ip));
    if (caller) idx = Math.max(idx, this.#deps.gate.index(caller, key));
    return idx;
  }

  /**
   * Decide for one lookup: counts it and records the observation. `observe` false for
   * re-evaluations (blocking-query wake-ups). `index`: the caller's index for the service when the
   * caller has just read it with index() (a woken query), so it is not read twice.
   */
  lookup(callerOrIp: Caller | null | string, name: string, via: FrontEnd, observe = true, index?: number): LookupResult {
    return this.#noted(this.#resolve(callerOrIp, name.toLowerCase(), index ?? null), via, observe);
  }

  /** Counts one more lookup answered with an earlier result (blocking-query wake-ups that share one evaluation); no observation. */
  countRepeat(result: RouteResult, via: FrontEnd): void {
    this.#noted(result, via, false);
  }

  /**
   * lookup() for answers that carry no index (DNS): the same decision, counting and observation,
   * without the index, which costs a handful of map reads per query. `name` must be lower case.
   */
  route(sourceIp: string, name: string, via: FrontEnd): RouteResult {
    return this.#noted(this.#resolve(sourceIp, name, 0), via, true);
  }

  #noted<R extends RouteResult>(result: R, via: FrontEnd, observe: boolean): R {
    this.#deps.counters.count(via, result.decision);
    if (result.service) this.#deps.popularity?.note(result.key);
    const { caller, target } = result;
    if (observe && caller?.pod.meshed && target?.status === 'meshed') this.#deps.observer.observe({ caller, service: result.key, target, via });
    return result;
  }

  /** The same decision without side effects (for explain). */
  evaluate(callerOrIp: Caller | null | string, name: string): LookupResult {
    return this.#resolve(callerOrIp, name.toLowerCase(), null);
  }

  /** The decision and the instances for a lower-cased name; `index` null: read it here. */
  #resolve(callerOrIp: Caller | null | string, key: string, index: number | null): LookupResult {
    const world = this.#deps.world.current;
    const ip = typeof callerOrIp === 'string' ? normalizeIp(callerOrIp) : callerOrIp?.ip;
    const caller = typeof callerOrIp === 'string' ? (world.callers.get(ip!) ?? null) : callerOrIp;
    const service = world.consul.services.get(key);
    const target = world.targets.get(key);
    const pinned = this.#deps.control.pinFor(key, caller?.workload ?? null) !== undefined;
    const gate = caller?.pod.meshed && target?.status === 'meshed' ? this.#deps.gate.state(caller, target) : 'off';
    const decision = decide({
      mode: this.#deps.control.mode,
      caller: caller ? { meshed: caller.pod.meshed } : null,
      target: service ? (target ?? null) : null,
      pinned,
      sidecar: gate,
      kubeStale: this.#deps.world.kubeStale,
    });

    if (index === null) index = this.#index(caller, ip, key);
    if (decision.route === 'mesh' && service && target) {
      const meshIdx = this.#deps.world.mesh(key);
      let cached = this.#meshCache.get(key);
      if (!cached || cached.index !== meshIdx) {
        cached = { index: meshIdx, instances: [meshInstance(service.name, target, this.#deps.datacenter, meshIdx)] };
        this.#meshCache.set(key, cached);
      }
      return { key, caller, decision, service, target, index, instances: cached.instances, contentVersion: -meshIdx };
    }
    return { key, caller, decision, service, target, index, instances: service?.instances ?? EMPTY, contentVersion: this.#deps.world.consul(key) };
  }
}
