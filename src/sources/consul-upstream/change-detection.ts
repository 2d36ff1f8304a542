// What the wide watches' answers name: the health detector's diff of non-passing checks and the
// choice of the hot set. Pure functions, so the rules can be tested on their own.

import type { CheckState } from './upstream-json.ts';

/** The non-passing checks of one answer, by node and CheckID. */
export type CheckStates = ReadonlyMap<string, CheckState>;

export function checkStates(list: readonly CheckState[]): Map<string, CheckState> {
  return new Map(list.map((c) => [`${c.node}\0${c.checkId}`, c]));
}

export interface Named {
  /** Lower-cased service names whose health changed. */
  readonly services: Set<string>;
  /** Nodes whose node-level checks changed: every service on them changed. */
  readonly nodes: Set<string>;
}

/**
 * Checks that appeared, disappeared or changed status between two answers. A service check names
 * its service; a node-level check (no ServiceID) names its node. A service check without a
 * ServiceName (old upstreams) names its node too, to be safe.
 */
export function diffCheckStates(before: CheckStates, after: CheckStates): Named {
  const named: Named = { services: new Set(), nodes: new Set() };
  const note = (c: CheckState): void => {
    if (c.serviceId !== '' && c.serviceName !== '') named.services.add(c.serviceName.toLowerCase());
    else named.nodes.add(c.node);
  };
  for (const [key, c] of after) if (before.get(key)?.status !== c.status) note(c);
  for (const [key, c] of before) if (!after.has(key)) note(c);
  return named;
}

/**
 * The hot set for the next period: current members stay while they rank within 1.5 × capacity (so
 * a service hovering around the cut-off does not flap), then the best-ranked others fill the
 * free places. `ranked`: lower-cased keys of services that exist, most looked-up first.
 */
export function chooseHot(current: ReadonlySet<string>, ranked: readonly string[], capacity: number): Set<string> {
  const next = new Set<string>();
  if (capacity <= 0) return next;
  const keepWithin = Math.ceil(capacity * 1.5);
  ranked.slice(0, keepWithin).forEach((key) => {
    if (current.has(key) && next.size < capacity) next.add(key);
  });
  for (const key of ranked) {
    if (next.size >= capacity) break;
    next.add(key);
  }
  return next;
}
