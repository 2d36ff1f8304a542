// PURE: what one managed Sidecar should hold, from what the sink holds now and what the workload
// was seen looking up. Invariant 3 is built in: every host of `current` is carried over unless the
// expiry rule removes it (expiry on, marked by an earlier sweep, still unused, deletion budget left).

import type { HostRecord, ManagedSidecar } from './managed-sidecar.ts';
import { egressHostsOf } from './managed-sidecar.ts';
import { compareStrings } from '../platform/compare.ts';
import { sameLabels } from '../world/labels.ts';
import { egressImports, parseEgressHost } from '../world/istio-hosts.ts';

export interface DesiredPolicy {
  /** Configured hosts every Sidecar gets (istio-system/* …). */
  readonly defaults: readonly string[];
  /** Most egress hosts one Sidecar may hold; observed hosts beyond it are reported, not added. */
  readonly maxHosts: number;
  /** 0: hosts never expire. */
  readonly expireAfterMs: number;
  /** Persisted lastSeen moves only in steps this large, so lookups alone do not cause writes. */
  readonly lastSeenResolutionMs: number;
}

export interface WorkloadFacts {
  readonly namespace: string;
  readonly name: string;
  readonly kind: string;
  /** Stable labels of its Pods now; null: unknown (no Pods seen), keep what was written. */
  readonly selector: Readonly<Record<string, string>> | null;
}

export interface DesiredInput {
  readonly workload: WorkloadFacts;
  readonly current: ManagedSidecar | undefined;
  /** Observed egress host -> last lookup time. */
  readonly observed: ReadonlyMap<string, number>;
  readonly now: number;
  readonly policy: DesiredPolicy;
  /** Expiry sweep: only sweeps mark or remove hosts. */
  readonly sweep: boolean;
  /** Host removals still allowed in this cycle. */
  readonly deletionBudget: number;
}

export type DesiredResult =
  | { readonly ok: false; readonly reason: 'no-selector' }
  | {
      readonly ok: true;
      readonly sidecar: ManagedSidecar;
      readonly added: readonly string[];
      readonly marked: readonly string[];
      readonly renewed: readonly string[];
      readonly removed: readonly string[];
      /** Observed hosts left out because the Sidecar is at maxHosts. */
      readonly overCap: readonly string[];
    };

/** Default resolution: a tenth of the expiry window, or a day when nothing expires. */
export function lastSeenResolution(expireAfterMs: number): number {
  return expireAfterMs > 0 ? Math.max(1000, Math.floor(expireAfterMs / 10)) : 24 * 3600 * 1000;
}

export function desiredSidecar(input: DesiredInput): DesiredResult {
  const { workload, current, observed, now, policy } = input;
  const selector = workload.selector ?? current?.selector ?? null;
  if (selector === null) return { ok: false, reason: 'no-selector' };

  const hosts = new Map<string, HostRecord>();
  const marked: string[] = [];
  const renewed: string[] = [];
  const removed: string[] = [];
  let budget = input.deletionBudget;
  const expiry = policy.expireAfterMs;

  for (const [host, rec] of [...(current?.hosts ?? new Map<string, HostRecord>())].sort(([a], [b]) => compareStrings(a, b))) {
    const seen = Math.max(rec.lastSeen, observed.get(host) ?? 0);
    const lastSeen = seen - rec.lastSeen >= policy.lastSeenResolutionMs ? seen : rec.lastSeen;
    if (rec.expiring !== undefined && seen > rec.expiring) {
      // A lookup after the mark renews the host: unmark and persist the fresh lastSeen.
      hosts.set(host, { lastSeen: seen, writtenAt: rec.writtenAt });
      renewed.push(host);
      continue;
    }
    const idle = expiry > 0 && now - seen >= expiry;
    if (input.sweep && idle && rec.expiring !== undefined && now > rec.expiring && budget > 0) {
      budget--;
      removed.push(host);
      continue;
    }
    if (input.sweep && idle && rec.expiring === undefined) {
      hosts.set(host, { lastSeen, writtenAt: rec.writtenAt, expiring: now });
      marked.push(host);
      continue;
    }
    hosts.set(host, { ...rec, lastSeen });
  }

  const defaults = [...new Set([...policy.defaults, ...(current?.defaults ?? [])])].sort(compareStrings);
  const room = () => policy.maxHosts - new Set([...defaults, ...hosts.keys()]).size;
  const added: string[] = [];
  const overCap: string[] = [];
  for (const [host, seen] of [...observed].sort(([a], [b]) => compareStrings(a, b))) {
    if (hosts.has(host) || removed.includes(host)) continue;
    if (expiry > 0 && now - seen >= expiry) continue; // stale before it was ever written: nothing to keep
    if (coveredBy(defaults, host, workload.namespace)) continue;
    if (room() <= 0) {
      overCap.push(host);
      continue;
    }
    hosts.set(host, { lastSeen: seen, writtenAt: now });
    added.push(host);
  }

  const selectorWrittenAt = current && sameLabels(current.selector, selector) ? current.selectorWrittenAt : now;
  const sidecar: ManagedSidecar = {
    namespace: workload.namespace,
    name: workload.name,
    workloadKind: workload.kind,
    selector,
    selectorWrittenAt,
    defaults,
    hosts: new Map([...hosts].sort(([a], [b]) => compareStrings(a, b))),
  };
  return { ok: true, sidecar, added, marked, renewed, removed, overCap };
}

/** A namespace-wide default: its own namespace plus the configured defaults (pitfall: Pods in namespaces without Services get the whole mesh). */
export function namespaceDefaultSidecar(namespace: string, name: string, defaults: readonly string[], current: ManagedSidecar | undefined, now: number): ManagedSidecar {
  const hosts = [...new Set(['./*', ...defaults, ...(current ? egressHostsOf(current) : [])])].sort(compareStrings);
  return { namespace, name, workloadKind: 'Namespace', selector: null, selectorWrittenAt: current?.selectorWrittenAt ?? now, defaults: hosts, hosts: new Map() };
}

/** A default such as istio-system/* already imports the host: listing it again changes nothing. */
function coveredBy(defaults: readonly string[], host: string, sidecarNamespace: string): boolean {
  const h = parseEgressHost(host);
  return h !== null && egressImports(defaults, sidecarNamespace, h.namespace, h.dnsName);
}
