// Istio Sidecars as the Kubernetes API sends and takes them: the raw object narrowed to the
// SidecarObject form the reconciler uses, and the bodies for create and replace. A replace starts
// from the object as read, so fields Discovery does not own (uid, finalizers, other spec fields)
// go back unchanged and the read resourceVersion makes the write conditional.

import type { SidecarObject } from '../sidecar-sink.ts';
import { isManaged } from '../sidecar-sink.ts';

export const SIDECAR_GROUP = 'networking.istio.io';
export const SIDECAR_VERSION = 'v1';
export const SIDECAR_PLURAL = 'sidecars';
export const SIDECAR_API_VERSION = `${SIDECAR_GROUP}/${SIDECAR_VERSION}`;

type Json = Record<string, unknown>;

/** A Sidecar as read from the API, with what a conditional write needs. */
export interface StoredSidecar {
  readonly raw: Json;
  readonly object: SidecarObject;
  readonly resourceVersion: string;
  readonly uid: string | undefined;
  /** Carries app.kubernetes.io/managed-by=discovery (invariant 4). */
  readonly managed: boolean;
}

const isJson = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isJson(v)) throw new Error(`${field} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new Error(`${field}.${k} is not a string`);
    out[k] = x;
  }
  return out;
}

function hostsOf(spec: Json, where: string): string[] {
  const egress = spec['egress'];
  if (egress === undefined || egress === null) return [];
  if (!Array.isArray(egress)) throw new Error(`${where}: spec.egress is not a list`);
  return egress.flatMap((e: unknown, i) => {
    const hosts = isJson(e) ? e['hosts'] : undefined;
    if (hosts === undefined) return [];
    if (!Array.isArray(hosts) || !hosts.every((h): h is string => typeof h === 'string')) throw new Error(`${where}: spec.egress[${i}].hosts is not a list of strings`);
    return hosts;
  });
}

/** Narrows what the API returned; throws naming the field that does not fit. */
export function storedSidecar(raw: unknown, where: string): StoredSidecar {
  if (!isJson(raw) || !isJson(raw['metadata'])) throw new Error(`${where}: the API returned something that is not an object with metadata`);
  const meta = raw['metadata'];
  const name = meta['name'];
  const namespace = meta['namespace'];
  const resourceVersion = meta['resourceVersion'];
  if (typeof name !== 'string' || typeof namespace !== 'string') throw new Error(`${where}: metadata.name or metadata.namespace is missing`);
  if (typeof resourceVersion !== 'string' || resourceVersion === '') throw new Error(`${where}: metadata.resourceVersion is missing`);
  const spec = isJson(raw['spec']) ? raw['spec'] : {};
  const selector = isJson(spec['workloadSelector']) ? stringMap(spec['workloadSelector']['labels'], `${where}: spec.workloadSelector.labels`) : undefined;
  const object: SidecarObject = {
    apiVersion: typeof raw['apiVersion'] === 'string' ? raw['apiVersion'] : SIDECAR_API_VERSION,
    kind: 'Sidecar',
    metadata: {
      name,
      namespace,
      labels: stringMap(meta['labels'], `${where}: metadata.labels`),
      annotations: stringMap(meta['annotations'], `${where}: metadata.annotations`),
    },
    spec: { ...(selector ? { workloadSelector: { labels: selector } } : {}), egress: [{ hosts: hostsOf(spec, where) }] },
  };
  return { raw, object, resourceVersion, uid: typeof meta['uid'] === 'string' ? meta['uid'] : undefined, managed: isManaged(object) };
}

export function creationBody(o: SidecarObject): Json {
  return {
    apiVersion: SIDECAR_API_VERSION,
    kind: 'Sidecar',
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, labels: { ...o.metadata.labels }, annotations: { ...o.metadata.annotations } },
    spec: structuredClone(o.spec),
  };
}

/** The stored object with Discovery's fields replaced by `o`, conditional on the version read. */
export function replacementBody(stored: StoredSidecar, o: SidecarObject): Json {
  const meta = stored.raw['metadata'] as Json;
  const { workloadSelector: _selector, egress: _egress, ...otherSpec } = isJson(stored.raw['spec']) ? stored.raw['spec'] : {};
  return {
    ...stored.raw,
    apiVersion: SIDECAR_API_VERSION,
    kind: 'Sidecar',
    metadata: { ...meta, labels: { ...o.metadata.labels }, annotations: { ...o.metadata.annotations }, resourceVersion: stored.resourceVersion },
    spec: { ...otherSpec, ...structuredClone(o.spec) },
  };
}
