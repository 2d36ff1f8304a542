// The leader-election record a coordination.k8s.io/v1 Lease carries, as the elector compares and
// writes it. The API server parses acquireTime and renewTime as MicroTime, which must carry exactly
// six fractional digits; client-node's V1MicroTime prints a millisecond Date that way. On read,
// client-node leaves MicroTime fields as the strings the server sent.

import { V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';

/** A MicroTime for `ms` since the epoch: `2026-03-01T00:00:00.123000Z`. */
export function microTime(ms: number): V1MicroTime {
  return new V1MicroTime(ms);
}

export interface LeaseRecord {
  /** '' when nobody holds the Lease (never acquired, or released). */
  readonly holder: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: string;
  readonly renewTime: string;
  readonly leaseTransitions: number;
}

function timeText(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : '';
}

export function leaseRecord(lease: V1Lease): LeaseRecord {
  const spec: V1LeaseSpec | undefined = lease.spec;
  return {
    holder: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: timeText(spec?.acquireTime),
    renewTime: timeText(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

/** Whether two observations are the same record (any field changing means the holder is alive). */
export function sameRecord(a: LeaseRecord | null, b: LeaseRecord): boolean {
  return (
    a !== null &&
    a.holder === b.holder &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

export interface SpecInput {
  readonly holder: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly leaseTransitions: number;
}

export function leaseSpec(s: SpecInput): V1LeaseSpec {
  return {
    holderIdentity: s.holder,
    leaseDurationSeconds: s.leaseDurationSeconds,
    acquireTime: microTime(s.acquireTime),
    renewTime: microTime(s.renewTime),
    leaseTransitions: s.leaseTransitions,
  };
}
