// The per-host bookkeeping a managed Sidecar carries in its hosts annotation: a JSON object from
// egress host to { lastSeen, writtenAt, expiring? } as ISO times. The reconciler writes it (see
// src/reconcile/managed-sidecar.ts); the Kubernetes sink reads it to merge two replicas' writes.
// Sinks may not import the reconciler, so the annotation's name and format are repeated here and a
// test holds the two copies equal.

import { compareStrings } from '../../platform/compare.ts';

export const HOSTS_ANNOTATION = 'sidecar.discovery/hosts';

export interface HostTimes {
  /** Last lookup of the host, milliseconds since the epoch. */
  readonly lastSeen: number;
  /** When the host was first written into the Sidecar. */
  readonly writtenAt: number;
  /** When expiry marked the host, if it did. */
  readonly expiring?: number;
}

function time(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
}

/**
 * The records of an annotation value. A record without a readable lastSeen and writtenAt is left
 * out (the reconciler treats such a host as written now); text that is not a JSON object gives none.
 */
export function parseHostRecords(text: string | undefined): Map<string, HostTimes> {
  const records = new Map<string, HostTimes>();
  if (text === undefined) return records;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return records;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return records;
  for (const [host, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (value === null || typeof value !== 'object') continue;
    const r = value as Record<string, unknown>;
    const lastSeen = time(r['lastSeen']);
    const writtenAt = time(r['writtenAt']);
    if (lastSeen === null || writtenAt === null) continue;
    const expiring = time(r['expiring']);
    records.set(host, expiring === null ? { lastSeen, writtenAt } : { lastSeen, writtenAt, expiring });
  }
  return records;
}

/** The annotation value, hosts sorted and fields in one order, as the reconciler renders it. */
export function renderHostRecords(records: ReadonlyMap<string, HostTimes>): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const entries = [...records].sort(([a], [b]) => compareStrings(a, b));
  return JSON.stringify(
    Object.fromEntries(
      entries.map(([host, r]) => [host, { lastSeen: iso(r.lastSeen), writtenAt: iso(r.writtenAt), ...(r.expiring !== undefined ? { expiring: iso(r.expiring) } : {}) }]),
    ),
  );
}

/**
 * Two records of one host made into one: the newest lastSeen, the earliest writtenAt, and an
 * expiry mark only from a record that has the newest lastSeen (a later lookup seen by any replica
 * cancels a mark made without it). Commutative, associative and idempotent, so the order in which
 * replicas' writes land does not change the result.
 */
export function joinHostTimes(a: HostTimes, b: HostTimes): HostTimes {
  const lastSeen = Math.max(a.lastSeen, b.lastSeen);
  const writtenAt = Math.min(a.writtenAt, b.writtenAt);
  const marks = [a, b].filter((r) => r.lastSeen === lastSeen && r.expiring !== undefined).map((r) => r.expiring!);
  return marks.length > 0 ? { lastSeen, writtenAt, expiring: Math.max(...marks) } : { lastSeen, writtenAt };
}
