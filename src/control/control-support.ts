// Helpers of the control store: the error a failed shared write raises, what differs between two
// pin lists, and the audit trail seen by one replica (the shared trail plus its own local records).

import { DiscoveryError } from '../platform/errors.ts';
import type { AuditEntry } from './audit-log.ts';
import type { Pin } from './state.ts';
import { pinKey } from './state.ts';

/**
 * A change to the shared control state that could not be stored (the store is unreachable, the
 * audit entry could not be written, or other writers kept winning): nothing was applied. The
 * way out is this replica's local override, which needs no shared store.
 */
export class ControlWriteError extends DiscoveryError {
  constructor(what: string, cause?: unknown) {
    super('DSC_ERR_STATE', `${what}; the change was not applied. A local override changes this replica alone without the shared store (PUT /v1/control/local-override)`, cause === undefined ? undefined : { cause });
    this.name = 'ControlWriteError';
  }
}

export function subjectOf(service: string, caller: string | undefined): string {
  return caller ? `${caller} -> ${service}` : service;
}

/** Services with a pin added, removed or changed between two pin lists. */
export function changedServices(before: readonly Pin[], after: readonly Pin[]): Set<string> {
  const was = new Map(before.map((p) => [pinKey(p.service, p.caller), p]));
  const changed = new Set<string>();
  for (const p of after) {
    const k = pinKey(p.service, p.caller);
    const old = was.get(k);
    if (!old || !samePin(old, p)) changed.add(p.service);
    was.delete(k);
  }
  for (const p of was.values()) changed.add(p.service);
  return changed;
}

function samePin(a: Pin, b: Pin): boolean {
  return a.service === b.service && a.caller === b.caller && a.reason === b.reason && a.actor === b.actor && a.at === b.at;
}

/**
 * The shared trail with this replica's local records folded in by time: an entry in both (a local
 * record whose copy reached the shared trail) is listed once. The newest `limit`, oldest first.
 */
export function mergeAuditTrails(shared: readonly AuditEntry[], local: readonly AuditEntry[], limit: number): AuditEntry[] {
  const seen = new Set(shared.map((e) => JSON.stringify(e)));
  const merged = [...shared, ...local.filter((e) => !seen.has(JSON.stringify(e)))];
  // A stable sort: entries of the same time keep the shared trail's order.
  merged.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return merged.slice(-limit);
}
