// Invariant 4: a Sidecar Discovery did not create wins over Discovery for every workload it would
// apply to: one selecting any of the workload's Pods, or a namespace-wide one in its namespace.
// (A root-namespace default is the mesh-wide fallback and is meant to be overridden, so it is not a conflict.)

import type { SidecarInfo } from './kube-types.ts';
import { selects } from './labels.ts';
import type { World } from './world.ts';

export function userSidecarsFor(world: World, workload: string): SidecarInfo[] {
  const pods = world.podsByWorkload.get(workload) ?? [];
  const namespace = pods[0]?.namespace ?? workload.slice(0, workload.indexOf('/'));
  return world.kube.sidecars.filter((s) => {
    if (s.managed || s.namespace !== namespace) return false;
    if (s.selector === null || Object.keys(s.selector).length === 0) return true;
    return pods.some((p) => selects(s.selector, p.labels));
  });
}

/** Memoized per World object: the world is immutable and swapped whole. */
export class ConflictIndex {
  #world: World | null = null;
  #cache = new Map<string, SidecarInfo[]>();

  for(world: World, workload: string): SidecarInfo[] {
    if (world !== this.#world) {
      this.#world = world;
      this.#cache = new Map();
    }
    let found = this.#cache.get(workload);
    if (!found) {
      found = userSidecarsFor(world, workload);
      this.#cache.set(workload, found);
    }
    return found;
  }
}

export function sidecarName(s: SidecarInfo): string {
  return `${s.namespace}/${s.name}`;
}
