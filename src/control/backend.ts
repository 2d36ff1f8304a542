// Where the control state is stored and how replicas see each other's changes. Two operations
// write and read it (load, save-if-version), a third follows it (watch). The state dir file is
// one backend; a shared store such as the upstream Consul KV is another (docs/adr/0010-control-in-consul-kv.md).

import type { ControlState, VersionedState } from './state.ts';

/** ok: stored under `version`. Otherwise the stored version was not the expected one: here is what is stored (null: nothing). */
export type SaveResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly current: VersionedState | null };

/** Where the state in effect came from: the store, the state dir's copy of the store's last value, or the consul-only start used until the store is first read. */
export type ControlSource = 'store' | 'cache' | 'fallback';

/** Whether the backend can reach its store, for status, readiness detail and metrics. */
export interface ControlBackendHealth {
  /** `file` or `consul-kv`. */
  readonly kind: string;
  /** Same as ControlBackend.name. */
  readonly name: string;
  readonly reachable: boolean;
  /** ISO time of the first failure of the current outage; null while reachable. */
  readonly unreachableSince: string | null;
  /** The last failure or rejected value, kept after recovery for diagnosis; null if none. */
  readonly lastError: string | null;
  readonly source: ControlSource;
}

export interface ControlBackend {
  /** Where the state lives (a file path, a KV key), for messages. */
  readonly name: string;

  /**
   * The stored state, or null when nothing is stored yet. A stored value that does not validate is
   * an error. A backend whose store can be out of reach (a shared store) does not fail here: it
   * returns the state to start from (its last read, kept in the state dir, else the kill-switch)
   * and says so in health().source, and writes only on top of a value it has read from the store.
   */
  load(): Promise<VersionedState | null>;

  /**
   * Stores `next` only if the stored version is still `expectedVersion` (compare-and-set); the new
   * version is greater than any version stored before. On a miss nothing is written and the
   * current value comes back, so the caller can re-apply its change on top and try again; when
   * `current` is null nothing is stored, and expectedVersion 0 creates it.
   */
  saveIfVersion(next: ControlState, expectedVersion: number): Promise<SaveResult>;

  /**
   * Calls `onChange` with each value stored by someone else (another replica, an operator),
   * in the order they were stored, and never with a value older than one this backend has
   * since loaded or saved. A stored value that does not validate goes to `onError` and is
   * otherwise ignored. Stops when `signal` aborts.
   */
  watch(onChange: (value: VersionedState) => void, onError: (message: string) => void, signal: AbortSignal): void;

  /** Reachability of the store; a backend without it is taken to be always reachable. */
  health?(): ControlBackendHealth;
}
