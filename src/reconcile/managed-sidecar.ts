// A managed Sidecar as the reconciler thinks of it (observed hosts with their times), and its
// Kubernetes form. The times the gate and expiry need travel with the object as annotations,
// so whatever the sink holds is enough to resume after a restart.

import { Sidecar as SidecarV1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Sidecar';
import { compareStrings } from '../platform/compare.ts';
import type { SidecarObject } from '../sinks/sidecar-sink.ts';
import { MANAGED_BY_DISCOVERY, MANAGED_BY_LABEL, type SidecarInfo } from '../world/kube-types.ts';

export const SIDECAR_API_VERSION = 'networking.istio.io/v1';
/** Which workload (kind/name) the Sidecar is for; "Namespace" for a namespace default. */
export const ANN_WORKLOAD = 'sidecar.discovery/workload';
/** JSON: observed egress host -> { lastSeen, writtenAt, expiring? } (ISO times). */
export const ANN_HOSTS = 'sidecar.discovery/hosts';
/** When the current workloadSelector was first written (ISO). */
export const ANN_SELECTOR_WRITTEN = 'sidecar.discovery/selector-written-at';
export const NAMESPACE_DEFAULT_NAME = 'discovery-default';

export interface HostRecord {
  /** Last lookup of this host by the workload, persisted at a coarse resolution (see desired.ts). */
  readonly lastSeen: number;
  /** When the host was first written into the Sidecar: the start of its propagation delay. */
  readonly writtenAt: number;
  /** Set when expiry marked the host; it is removed on a later sweep unless a lookup renews it. */
  readonly expiring?: number;
}

export interface ManagedSidecar {
  readonly namespace: string;
  readonly name: string;
  /** Workload kind (Deployment, StatefulSet, …) or "Namespace" for a namespace default. */
  readonly workloadKind: string;
  /** null: namespace-wide (namespace defaults only). */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly selectorWrittenAt: number;
  /** Configured hosts (istio-system/* …), not subject to expiry. */
  readonly defaults: readonly string[];
  /** Observed hosts, by egress host text. */
  readonly hosts: ReadonlyMap<string, HostRecord>;
}

export function egressHostsOf(s: ManagedSidecar): string[] {
  return [...new Set([...s.defaults, ...s.hosts.keys()])].sort(compareStrings);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => compareStrings(a, b)));
}

export function renderSidecar(s: ManagedSidecar): SidecarObject {
  const hosts = sortedRecord(
    [...s.hosts].map(([h, r]) => [h, { lastSeen: iso(r.lastSeen), writtenAt: iso(r.writtenAt), ...(r.expiring !== undefined ? { expiring: iso(r.expiring) } : {}) }]),
  );
  const annotations: Record<string, string> = { [ANN_WORKLOAD]: s.workloadKind === 'Namespace' ? 'Namespace' : `${s.workloadKind}/${s.name}` };
  if (s.hosts.size > 0) annotations[ANN_HOSTS] = JSON.stringify(hosts);
  if (s.selector !== null) annotations[ANN_SELECTOR_WRITTEN] = iso(s.selectorWrittenAt);
  return {
    apiVersion: SIDECAR_API_VERSION,
    kind: 'Sidecar',
    metadata: { name: s.name, namespace: s.namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_DISCOVERY }, annotations: sortedRecord(Object.entries(annotations)) },
    spec: {
      ...(s.selector !== null ? { workloadSelector: { labels: sortedRecord(Object.entries(s.selector)) } } : {}),
      egress: [{ hosts: egressHostsOf(s) }],
    },
  };
}

/** Istio's CRD schema via @kubernetes-models/istio 2.3.0, which ships v1beta1 only; the v1 spec is identical. */
export function validateSidecar(o: SidecarObject): void {
  const model = new SidecarV1beta1(structuredClone({ metadata: o.metadata, spec: o.spec }) as ConstructorParameters<typeof SidecarV1beta1>[0]);
  model.validate();
  if (o.spec.workloadSelector && Object.keys(o.spec.workloadSelector.labels).length === 0) {
    throw new Error(`Sidecar ${o.metadata.namespace}/${o.metadata.name}: an empty workloadSelector would select the whole namespace`);
  }
}

export function sameObject(a: SidecarObject, b: SidecarObject): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function time(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
}

/**
 * Back from the sink. Egress hosts missing from the hosts annotation (edited by hand, or an older
 * format) are kept as observed hosts written "now": never dropped, and gated until propagated.
 */
/** A Sidecar as the world holds it (from the cluster), in the form parseSidecar reads. */
export function sidecarObjectOf(info: SidecarInfo): SidecarObject {
  return {
    apiVersion: info.apiVersion,
    kind: 'Sidecar',
    metadata: { name: info.name, namespace: info.namespace, labels: info.labels, annotations: info.annotations },
    spec: { ...(info.selector ? { workloadSelector: { labels: info.selector } } : {}), egress: [{ hosts: info.egressHosts }] },
  };
}

export function parseSidecar(o: SidecarObject, defaults: readonly string[], now: number): ManagedSidecar {
  const ann = o.metadata.annotations ?? {};
  const wk = ann[ANN_WORKLOAD] ?? 'Unknown/x';
  const workloadKind = wk === 'Namespace' ? 'Namespace' : wk.split('/')[0] || 'Unknown';
  let recorded: Record<string, Record<string, unknown>> = {};
  try {
    const parsed: unknown = ann[ANN_HOSTS] ? JSON.parse(ann[ANN_HOSTS]) : {};
    if (parsed && typeof parsed === 'object') recorded = parsed as typeof recorded;
  } catch {
    recorded = {};
  }
  const egress = (o.spec?.egress ?? []).flatMap((e) => e.hosts ?? []);
  const defaultSet = new Set(defaults);
  const hosts = new Map<string, HostRecord>();
  const keptDefaults: string[] = [];
  for (const h of egress) {
    const r = recorded[h];
    if (r) {
      const expiring = time(r['expiring']);
      hosts.set(h, { lastSeen: time(r['lastSeen']) ?? now, writtenAt: time(r['writtenAt']) ?? now, ...(expiring !== null ? { expiring } : {}) });
    } else if (defaultSet.has(h) || workloadKind === 'Namespace') {
      keptDefaults.push(h);
    } else {
      hosts.set(h, { lastSeen: now, writtenAt: now });
    }
  }
  const selector = o.spec?.workloadSelector?.labels ?? null;
  return {
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    workloadKind,
    selector: selector && Object.keys(selector).length > 0 ? { ...selector } : null,
    selectorWrittenAt: time(ann[ANN_SELECTOR_WRITTEN]) ?? now,
    defaults: keptDefaults,
    hosts,
  };
}
