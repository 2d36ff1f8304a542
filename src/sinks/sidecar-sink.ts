// Where managed Sidecars live: a file in the state dir (embedded mode) or the Kubernetes API
// (live mode). The reconciler only talks to this interface.

import { MANAGED_BY_DISCOVERY, MANAGED_BY_LABEL } from '../world/kube-types.ts';

/** An Istio Sidecar as `kubectl get -o yaml` prints it (only the fields Discovery owns). */
export interface SidecarObject {
  readonly apiVersion: string;
  readonly kind: 'Sidecar';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly workloadSelector?: { readonly labels: Readonly<Record<string, string>> };
    readonly egress: ReadonlyArray<{ readonly hosts: readonly string[] }>;
  };
}

/** "empty" and "failed" are different answers: only a successful read may be trusted as the whole truth. */
export type ReadBack = { readonly ok: true; readonly sidecars: readonly SidecarObject[] } | { readonly ok: false; readonly error: string };

export interface ApplyResult {
  /** `namespace/name` of every object now stored as given. */
  readonly applied: readonly string[];
  readonly failed: ReadonlyArray<{ readonly key: string; readonly error: string }>;
}

export interface SidecarRef {
  readonly namespace: string;
  readonly name: string;
}

/** One Sidecar to store, and the hosts this write drops on purpose. */
export interface SidecarWrite {
  readonly object: SidecarObject;
  /**
   * Hosts removed on purpose (expiry). A sink shared by several replicas merges: it keeps every host
   * it already holds except these, so a host another replica added is never lost (invariant 3).
   * A single-writer sink stores the object as given.
   */
  readonly removedHosts: readonly string[];
}

export interface SidecarSink {
  readonly name: string;
  /** Every Sidecar this sink holds that carries the managed-by label. Never a partial list: failure is `ok: false`. */
  readBack(): Promise<ReadBack>;
  /** Create or update each object (see SidecarWrite for what a shared sink keeps). Objects without the managed-by label are refused. */
  apply(writes: readonly SidecarWrite[]): Promise<ApplyResult>;
  delete(refs: readonly SidecarRef[]): Promise<ApplyResult>;
}

export function sidecarKey(o: SidecarRef | SidecarObject): string {
  return 'metadata' in o ? `${o.metadata.namespace}/${o.metadata.name}` : `${o.namespace}/${o.name}`;
}

export function isManaged(o: { readonly metadata?: { readonly labels?: Readonly<Record<string, string>> } }): boolean {
  return o.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_DISCOVERY;
}

/** Invariant 4, checked at the last step before any write: a sink never writes a Sidecar that is not ours. */
export function assertManaged(o: SidecarObject): void {
  if (!isManaged(o)) throw new Error(`refusing to write Sidecar ${sidecarKey(o)}: it lacks ${MANAGED_BY_LABEL}=${MANAGED_BY_DISCOVERY}`);
}
