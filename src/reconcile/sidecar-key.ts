// Which managed Sidecar a change or a problem is about: one workload's, or a namespace's default.
// A workload's Sidecar carries the workload's namespace and name; a namespace default is named
// NAMESPACE_DEFAULT_NAME in its namespace.

import type { SidecarRef } from '../sinks/sidecar-sink.ts';
import { sidecarKey } from '../sinks/sidecar-sink.ts';
import { NAMESPACE_DEFAULT_NAME } from './managed-sidecar.ts';

export interface WorkloadSidecarKey {
  readonly kind: 'workload';
  /** The workload key, namespace/name. */
  readonly workload: string;
}

export interface NamespaceDefaultKey {
  readonly kind: 'namespace';
  readonly namespace: string;
}

export type SidecarKey = WorkloadSidecarKey | NamespaceDefaultKey;

export function workloadSidecar(workload: string): WorkloadSidecarKey {
  return { kind: 'workload', workload };
}

export function namespaceDefault(namespace: string): NamespaceDefaultKey {
  return { kind: 'namespace', namespace };
}

/** Where the Sidecar lives in the sink. */
export function sidecarRefOf(key: SidecarKey): SidecarRef {
  if (key.kind === 'namespace') return { namespace: key.namespace, name: NAMESPACE_DEFAULT_NAME };
  const slash = key.workload.indexOf('/');
  return { namespace: key.workload.slice(0, slash), name: key.workload.slice(slash + 1) };
}

/** The Sidecar's namespace/name, as logs, status and the sink's results name it. */
export function sidecarNameOf(key: SidecarKey): string {
  return sidecarKey(sidecarRefOf(key));
}

export interface ReadonlySidecarKeyMap<V> {
  get(key: SidecarKey): V | undefined;
  forWorkload(workload: string): V | undefined;
  workloads(): IterableIterator<string>;
  entries(): IterableIterator<[SidecarKey, V]>;
  values(): IterableIterator<V>;
}

/** A map keyed by SidecarKey, compared by value: workload Sidecars and namespace defaults apart. */
export class SidecarKeyMap<V> implements ReadonlySidecarKeyMap<V> {
  readonly #workloads = new Map<string, V>();
  readonly #namespaces = new Map<string, V>();

  get(key: SidecarKey): V | undefined {
    return key.kind === 'workload' ? this.#workloads.get(key.workload) : this.#namespaces.get(key.namespace);
  }

  /** get() for a workload's Sidecar without building its key (the lookup path calls this). */
  forWorkload(workload: string): V | undefined {
    return this.#workloads.get(workload);
  }

  set(key: SidecarKey, value: V): void {
    if (key.kind === 'workload') this.#workloads.set(key.workload, value);
    else this.#namespaces.set(key.namespace, value);
  }

  delete(key: SidecarKey): void {
    if (key.kind === 'workload') this.#workloads.delete(key.workload);
    else this.#namespaces.delete(key.namespace);
  }

  clear(): void {
    this.#workloads.clear();
    this.#namespaces.clear();
  }

  /** Workloads with an entry (namespace defaults left out). */
  workloads(): IterableIterator<string> {
    return this.#workloads.keys();
  }

  /** Workload entries first, then namespace defaults, each in insertion order. */
  *entries(): IterableIterator<[SidecarKey, V]> {
    for (const [workload, v] of this.#workloads) yield [workloadSidecar(workload), v];
    for (const [namespace, v] of this.#namespaces) yield [namespaceDefault(namespace), v];
  }

  *values(): IterableIterator<V> {
    yield* this.#workloads.values();
    yield* this.#namespaces.values();
  }
}
