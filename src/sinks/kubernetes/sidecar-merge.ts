// The union merge of a replica's write into the Sidecar the cluster holds (docs/adr/0009): pure,
// so it can be checked on its own. Egress hosts are the cluster's plus the write's, minus only the
// hosts the write removes on purpose (invariant 3: a host another replica added is never lost);
// per-host times are joined (host-records.ts); labels, other annotations and the workload selector
// come from the write.

import { compareStrings } from '../../platform/compare.ts';
import type { SidecarObject, SidecarWrite } from '../sidecar-sink.ts';
import { HOSTS_ANNOTATION, joinHostTimes, parseHostRecords, renderHostRecords, type HostTimes } from './host-records.ts';

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => compareStrings(a, b)));
}

export function egressHosts(o: SidecarObject): string[] {
  return (o.spec?.egress ?? []).flatMap((e) => e.hosts ?? []);
}

/**
 * What the cluster should hold after `write` lands on `cluster` (null: no object yet). The result is
 * canonical: one egress entry with sorted, distinct hosts; sorted labels, annotations and selector;
 * the hosts annotation rendered as the reconciler renders it, and absent when no host has a record.
 */
export function mergeSidecar(cluster: SidecarObject | null, write: SidecarWrite): SidecarObject {
  const o = write.object;
  const removed = new Set(write.removedHosts);
  const hosts = [...new Set([...(cluster ? egressHosts(cluster) : []), ...egressHosts(o)])].filter((h) => !removed.has(h)).sort(compareStrings);

  const theirs = parseHostRecords(cluster?.metadata.annotations?.[HOSTS_ANNOTATION]);
  const ours = parseHostRecords(o.metadata.annotations?.[HOSTS_ANNOTATION]);
  const records = new Map<string, HostTimes>();
  for (const host of hosts) {
    const a = theirs.get(host);
    const b = ours.get(host);
    const joined = a && b ? joinHostTimes(a, b) : (a ?? b);
    if (joined) records.set(host, joined);
  }

  const annotations: Record<string, string> = { ...(o.metadata.annotations ?? {}) };
  delete annotations[HOSTS_ANNOTATION];
  if (records.size > 0) annotations[HOSTS_ANNOTATION] = renderHostRecords(records);
  const selector = o.spec.workloadSelector;
  return {
    apiVersion: o.apiVersion,
    kind: 'Sidecar',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      labels: sortedRecord(o.metadata.labels ?? {}),
      annotations: sortedRecord(annotations),
    },
    spec: {
      ...(selector ? { workloadSelector: { labels: sortedRecord(selector.labels ?? {}) } } : {}),
      egress: [{ hosts }],
    },
  };
}

/** The canonical form of an object, as mergeSidecar renders its results. */
export function normalizeSidecar(o: SidecarObject): SidecarObject {
  return mergeSidecar(null, { object: o, removedHosts: [] });
}

/** Whether writing `merged` over `cluster` would change anything Discovery owns (metadata and spec; the API version is the URL's). */
export function sameSidecar(cluster: SidecarObject, merged: SidecarObject): boolean {
  const owned = (o: SidecarObject) => {
    const n = normalizeSidecar(o);
    return JSON.stringify([n.metadata, n.spec]);
  };
  return owned(cluster) === owned(merged);
}
