// The world store: holds the current World, rebuilds it when a source delivers a new snapshot,
// and stamps every service and caller whose answer-relevant facts changed with a new index.

import { createHash } from 'node:crypto';
import type { ConsulCatalog } from './consul-types.ts';
import type { KubeSnapshot } from './kube-types.ts';
import { EMPTY_KUBE } from './kube-types.ts';
import type { ConsulInstance } from './consul-types.ts';
import type { Caller, MeshTarget, World, WorldOptions } from './world.ts';
import { WorldBuilder } from './world.ts';
import type { ChangeBus, ChangeSet, IndexClock } from './changes.ts';

export const EMPTY_CATALOG: ConsulCatalog = { nodes: new Map(), services: new Map(), nodeChecks: new Map() };

/** A digest, not the JSON itself: at 40,000 instances the JSON would hold tens of MB for nothing. */
function digest(json: string): string {
  return createHash('sha1').update(json).digest('base64');
}

function callerFingerprint(c: Caller): string {
  const s = c.sidecar.kind === 'none' ? null : { kind: c.sidecar.kind, ns: c.sidecar.info.namespace, name: c.sidecar.info.name, hosts: c.sidecar.info.egressHosts };
  return digest(JSON.stringify([c.pod.namespace, c.pod.name, c.pod.meshed, c.workload, s]));
}

/** The builder keeps an unchanged service's target object, so each is hashed once. */
const targetDigests = new WeakMap<MeshTarget, string>();

function targetFingerprint(t: MeshTarget): string {
  let d = targetDigests.get(t);
  if (d === undefined) {
    d = digest(JSON.stringify(t));
    targetDigests.set(t, d);
  }
  return d;
}

function diffStamps<T>(
  prev: ReadonlyMap<string, string>,
  nextItems: ReadonlyMap<string, T>,
  fingerprint: (t: T) => string,
): { fingerprints: Map<string, string>; changed: Set<string> } {
  const fingerprints = new Map<string, string>();
  const changed = new Set<string>();
  for (const [key, item] of nextItems) {
    const fp = fingerprint(item);
    fingerprints.set(key, fp);
    if (prev.get(key) !== fp) changed.add(key);
  }
  for (const key of prev.keys()) if (!nextItems.has(key)) changed.add(key);
  return { fingerprints, changed };
}

export interface WorldIndexes {
  /** Index of the Consul data of a service (its HAProxy answer). */
  consul(service: string): number;
  /** Index of a service's mesh facts (its ClusterIP answer). */
  mesh(service: string): number;
  /** Index of a caller's identity and Sidecar scope. */
  caller(ip: string): number;
  /** Highest index of any Consul change, including removals: Consul's services-table index. */
  readonly catalog: number;
  /** Index of the last change of trust in the Kubernetes data (stale or fresh again). */
  readonly freshness: number;
}

export class WorldStore implements WorldIndexes {
  #world: World;
  #consul: ConsulCatalog = EMPTY_CATALOG;
  #kube: KubeSnapshot = EMPTY_KUBE;
  #consulFp = new Map<string, string>();
  #meshFp = new Map<string, string>();
  #callerFp = new Map<string, string>();
  readonly #consulIdx = new Map<string, number>();
  readonly #meshIdx = new Map<string, number>();
  readonly #callerIdx = new Map<string, number>();
  #catalog: number;
  #kubeStale = false;
  #freshness: number;
  /** Every key not stamped since start shares this index. */
  readonly #base: number;
  readonly #opts: WorldOptions;
  readonly #builder: WorldBuilder;
  /** Digests of instance lists already seen: the catalog keeps an unchanged service's list, so it is hashed once. */
  #instanceDigests = new WeakMap<readonly ConsulInstance[], string>();
  readonly #clock: IndexClock;
  readonly #bus: ChangeBus;

  constructor(opts: WorldOptions, clock: IndexClock, bus: ChangeBus) {
    this.#opts = opts;
    this.#clock = clock;
    this.#bus = bus;
    this.#base = clock.next();
    this.#catalog = this.#base;
    this.#freshness = this.#base;
    this.#builder = new WorldBuilder(opts);
    this.#world = this.#builder.build(EMPTY_CATALOG, EMPTY_KUBE);
  }

  get current(): World {
    return this.#world;
  }

  get options(): WorldOptions {
    return this.#opts;
  }

  consul(service: string): number {
    return this.#consulIdx.get(service) ?? this.#catalog;
  }

  mesh(service: string): number {
    return this.#meshIdx.get(service) ?? this.#base;
  }

  caller(ip: string): number {
    return this.#callerIdx.get(ip) ?? this.#base;
  }

  get catalog(): number {
    return this.#catalog;
  }

  /** True while the Kubernetes data cannot be followed: no caller is trusted (every answer HAProxy). */
  get kubeStale(): boolean {
    return this.#kubeStale;
  }

  /** Index of the last flip of kubeStale: it changes every caller's answer, so every index includes it. */
  get freshness(): number {
    return this.#freshness;
  }

  setKubeStale(stale: boolean): void {
    if (stale === this.#kubeStale) return;
    this.#kubeStale = stale;
    this.#freshness = this.#clock.next();
    this.#bus.publish({ all: true, services: new Set(), callers: new Set() });
  }

  /** Replace one or both inputs; rebuilds the world atomically and publishes what changed. */
  update(input: { consul?: ConsulCatalog; kube?: KubeSnapshot }): ChangeSet {
    if (input.consul) this.#consul = input.consul;
    if (input.kube) this.#kube = input.kube;
    const previous = this.#world;
    const world = this.#builder.build(this.#consul, this.#kube);

    const consul = diffStamps(this.#consulFp, world.consul.services, (s) => this.#instancesDigest(s.instances));
    const mesh = diffStamps(this.#meshFp, world.targets, targetFingerprint);
    // The builder hands back the same callers map while Pods and Sidecars are the same: nothing to compare.
    const callers = world.callers === previous.callers ? { fingerprints: this.#callerFp, changed: new Set<string>() } : diffStamps(this.#callerFp, world.callers, callerFingerprint);
    const change: ChangeSet = {
      all: false,
      services: new Set([...consul.changed, ...mesh.changed]),
      callers: callers.changed,
    };
    if (change.services.size > 0 || change.callers.size > 0) {
      const index = this.#clock.next();
      for (const k of consul.changed) this.#consulIdx.set(k, index);
      for (const k of mesh.changed) this.#meshIdx.set(k, index);
      for (const k of callers.changed) this.#callerIdx.set(k, index);
      if (consul.changed.size > 0) this.#catalog = index;
    }
    this.#consulFp = consul.fingerprints;
    this.#meshFp = mesh.fingerprints;
    this.#callerFp = callers.fingerprints;
    this.#world = world;
    this.#bus.publish(change);
    return change;
  }

  #instancesDigest(instances: readonly ConsulInstance[]): string {
    let d = this.#instanceDigests.get(instances);
    if (d === undefined) {
      d = digest(JSON.stringify(instances));
      this.#instanceDigests.set(instances, d);
    }
    return d;
  }
}
