// The control state as one JSON document under one key of the upstream Consul KV, shared by every
// replica (docs/adr/0010-control-in-consul-kv.md). The version of the ControlBackend interface is
// the key's ModifyIndex: writes are check-and-set on it, and every replica follows the key with a
// blocking query, so a kill-switch flip reaches every replica about one round trip after the write.
// The value is validated with the same schema as the state dir file (state.ts).
//
// The store can be out of reach, and then the replica keeps its last known state and says so
// (health()). Each value read is copied into the state dir, so a restart during an outage starts
// from that copy; with no copy the replica starts with the kill-switch on (fail toward HAProxy)
// until the first successful read. A replica writes only on top of a value it read from the KV
// in this process: neither the copy nor the kill-switch start is ever written back as if shared.

import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import type { Logger } from '../platform/log.ts';
import { SerialQueue } from '../platform/serial-queue.ts';
import type { ControlBackend, ControlBackendHealth, ControlSource, SaveResult } from './backend.ts';
import { ControlCache } from './control-cache.ts';
import type { ConsulKv, KvRead, KvValue } from './consul-kv-client.ts';
import type { ControlState, VersionedState } from './state.ts';
import { INITIAL_CONTROL_STATE, formatControlDocument, parseControlDocument } from './state.ts';

export interface ConsulKvControlBackendOptions {
  readonly kv: ConsulKv;
  /** The key holding the control document (config control-key, default discovery/control). */
  readonly key: string;
  /** Where the copy of the last value read is kept (control-cache.json). */
  readonly stateDir: string;
  readonly log: Logger;
  /** Wall clock for outage times. Default the system clock. */
  readonly now?: () => Date;
  /** The blocking query's wait. Default 5 min. */
  readonly waitMs?: number;
  /** Longest pause between two failed reads of the watch. Default 5 s. */
  readonly retryMaxMs?: number;
}

/** The last value read from the KV: its ModifyIndex (0: no key), its text, the raft index it was seen at, and its document revision. */
interface KnownValue {
  readonly version: number;
  readonly text: string | null;
  readonly index: number;
  readonly revision: number;
}

export class ConsulKvControlBackend implements ControlBackend {
  readonly name: string;
  readonly #kv: ConsulKv;
  readonly #key: string;
  readonly #cache: ControlCache;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #waitMs: number;
  readonly #retryMaxMs: number;
  /** Loads, saves and watch answers are handled one at a time, so a watch never hands over a value older than a save. */
  readonly #queue = new SerialQueue();
  /** null until a value is read from the KV in this process. */
  #known: KnownValue | null = null;
  /** The state last handed to the control store, to re-plan on when the stored value does not validate. */
  #inEffect: ControlState = INITIAL_CONTROL_STATE;
  #source: ControlSource = 'store';
  #reachable = true;
  #unreachableSince: string | null = null;
  #lastError: string | null = null;

  constructor(options: ConsulKvControlBackendOptions) {
    this.#kv = options.kv;
    this.#key = options.key;
    this.#cache = new ControlCache(options.stateDir);
    this.#log = options.log.child({ component: 'control' });
    this.#now = options.now ?? (() => new Date());
    this.#waitMs = options.waitMs ?? 5 * 60_000;
    this.#retryMaxMs = options.retryMaxMs ?? 5_000;
    this.name = `Consul KV ${options.key} at ${options.kv.address}`;
  }

  load(): Promise<VersionedState | null> {
    return this.#queue.run(async () => {
      let read: KvValue | null;
      try {
        read = await this.#kv.get(this.#key);
      } catch (err) {
        this.#failed(errorMessage(err));
        return this.#startWithoutStore(errorMessage(err));
      }
      this.#answered();
      const value = this.#parse(read);
      if (value instanceof Error) {
        this.#rejected(value.message);
        this.#log.error(`ignoring the value of ${this.name}: ${value.message}`);
        return this.#startWithoutStore(value.message);
      }
      await this.#take(read, read?.modifyIndex ?? 0, value);
      return read === null ? null : value;
    });
  }

  saveIfVersion(next: ControlState, expectedVersion: number): Promise<SaveResult> {
    return this.#queue.run(async (): Promise<SaveResult> => {
      if (this.#known === null) {
        // Started from the copy or the kill-switch: the change was worked out on a state that
        // was never read from the KV (even when the versions agree: nothing stored and the
        // kill-switch start are both version 0). Read what is stored and let the caller work its
        // change out again on top of it.
        return { ok: false, current: await this.#readCurrent() };
      }
      const base: KnownValue = this.#known;
      const revision = (base.version === expectedVersion ? base.revision : 0) + 1;
      const text = formatControlDocument({ state: next, version: revision });
      let stored: boolean;
      try {
        stored = await this.#kv.setIfIndex(this.#key, text, expectedVersion);
      } catch (err) {
        this.#failed(errorMessage(err));
        throw new DiscoveryError('DSC_ERR_STATE', `cannot store the control state: ${errorMessage(err)}`, { cause: err });
      }
      this.#answered();
      if (!stored) return { ok: false, current: await this.#readCurrent() };
      const version = await this.#versionOfOwnWrite(text, expectedVersion);
      await this.#take({ value: text, modifyIndex: version }, version, { state: next, version });
      return { ok: true, version };
    });
  }

  watch(onChange: (value: VersionedState) => void, onError: (message: string) => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.#kv.watchKey(
      this.#key,
      { waitMs: this.#waitMs, retryMaxMs: this.#retryMaxMs },
      {
        answered: () => this.#answered(),
        // An outage is logged once, when it starts (#failed); its retries only update lastError.
        error: (message) => void this.#failed(message),
        change: (read, reset) => void this.#queue.run(() => this.#onWatchAnswer(read, reset, onChange, onError, signal)),
      },
      signal,
    );
  }

  health(): ControlBackendHealth {
    return { kind: 'consul-kv', name: this.name, reachable: this.#reachable, unreachableSince: this.#unreachableSince, lastError: this.#lastError, source: this.#source };
  }

  async #onWatchAnswer(read: KvRead, reset: boolean, onChange: (value: VersionedState) => void, onError: (message: string) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const entry = read.entry;
    const version = entry?.modifyIndex ?? 0;
    const text = entry?.value ?? null;
    // A present key is ordered by its ModifyIndex, a missing one by the answer's index.
    const index = entry ? entry.modifyIndex : read.index;
    // After a snapshot restore every index is lower: what the KV holds now is the truth.
    if (reset && this.#known) this.#known = { ...this.#known, index: 0 };
    const known = this.#known;
    if (known && (index <= known.index || (known.text === text && known.version === version))) return;
    const value = this.#parse(entry);
    if (value instanceof Error) {
      this.#rejected(value.message);
      onError(`ignoring the value of ${this.name}: ${value.message}`);
      return;
    }
    const taken = value ?? { state: INITIAL_CONTROL_STATE, version: 0 };
    await this.#take(entry, index, taken);
    try {
      onChange(taken);
    } catch (err) {
      onError(`applying the value of ${this.name} failed: ${errorMessage(err)}`);
    }
  }

  /** What is stored now, as the state to work a change out on; a value that does not validate counts as the state in effect, so the next save replaces it. */
  async #readCurrent(): Promise<VersionedState> {
    let read: KvValue | null;
    try {
      read = await this.#kv.get(this.#key);
    } catch (err) {
      this.#failed(errorMessage(err));
      throw new DiscoveryError('DSC_ERR_STATE', `cannot read the control state: ${errorMessage(err)}`, { cause: err });
    }
    this.#answered();
    const value = this.#parse(read);
    if (value instanceof Error) {
      this.#rejected(value.message);
      this.#log.error(`the value of ${this.name} does not validate and is replaced by the next change: ${value.message}`);
      const replaced = { state: this.#inEffect, version: read?.modifyIndex ?? 0 };
      this.#known = { version: replaced.version, text: read?.value ?? null, index: replaced.version, revision: 0 };
      return replaced;
    }
    await this.#take(read, read?.modifyIndex ?? 0, value);
    return value ?? { state: INITIAL_CONTROL_STATE, version: 0 };
  }

  /**
   * The ModifyIndex of the value this replica just wrote: read back when it is still there. When
   * another write already followed it, any index between the expected one and the newer write
   * orders it right, and the newer one reaches this replica through the watch.
   */
  async #versionOfOwnWrite(text: string, expectedVersion: number): Promise<number> {
    try {
      const read = await this.#kv.get(this.#key);
      if (read && read.value === text) return read.modifyIndex;
    } catch (err) {
      this.#failed(errorMessage(err));
    }
    return expectedVersion + 1;
  }

  /** The validated state of a read (null: no key), or the Error saying why it does not validate. */
  #parse(read: KvValue | null): VersionedState | null | Error {
    if (read === null) return null;
    try {
      const doc = parseControlDocument(JSON.parse(read.value));
      return { state: doc.state, version: read.modifyIndex };
    } catch (err) {
      return new Error(`the value at ModifyIndex ${read.modifyIndex} is not a valid control document: ${errorMessage(err)}`);
    }
  }

  /** Records a value read from (or written to) the KV as the one in effect, and copies it into the state dir. */
  async #take(read: KvValue | null, index: number, value: VersionedState | null): Promise<void> {
    const revision = read ? (parseRevision(read.value) ?? 0) : 0;
    this.#known = { version: read?.modifyIndex ?? 0, text: read?.value ?? null, index, revision };
    this.#inEffect = value?.state ?? INITIAL_CONTROL_STATE;
    this.#source = 'store';
    try {
      await this.#cache.write({ key: this.#key, value: read?.value ?? null, modifyIndex: read?.modifyIndex ?? 0, readAt: this.#now().toISOString() });
    } catch (err) {
      this.#log.warn(`cannot keep a copy of the control state in ${this.#cache.path}: ${errorMessage(err)}`);
    }
  }

  /** The state to start from when the KV cannot be read: the copy in the state dir, else the kill-switch. */
  async #startWithoutStore(reason: string): Promise<VersionedState | null> {
    const cached = await this.#cache.read(this.#key, (m) => this.#log.warn(m));
    if (cached) {
      const value = cached.value === null ? null : this.#parse({ value: cached.value, modifyIndex: cached.modifyIndex });
      if (!(value instanceof Error)) {
        this.#source = 'cache';
        this.#inEffect = value?.state ?? INITIAL_CONTROL_STATE;
        this.#log.warn(`${this.name} cannot be read (${reason}); starting from the copy read at ${cached.readAt}`);
        return value;
      }
      this.#log.warn(`ignoring the control cache ${this.#cache.path}: ${value.message}`);
    }
    this.#source = 'fallback';
    const at = this.#now().toISOString();
    const state: ControlState = {
      mode: 'consul-only',
      modeReason: `the control state in ${this.name} could not be read at start and no copy is kept: every answer is Consul's until it is read`,
      modeChangedAt: at,
      modeChangedBy: 'discovery',
      pins: [],
    };
    this.#inEffect = state;
    this.#log.error(`${this.name} cannot be read (${reason}) and the state dir holds no copy of it: kill-switch on until it is read`);
    return { state, version: 0 };
  }

  /** A failed request; true when it starts an outage. */
  #failed(message: string): boolean {
    this.#lastError = message;
    if (!this.#reachable) return false;
    this.#reachable = false;
    this.#unreachableSince = this.#now().toISOString();
    this.#log.warn(`${this.name} is unreachable: ${message}; keeping the last known control state`);
    return true;
  }

  /** A value that was read but does not validate: the KV is reachable, the reason is kept for status. */
  #rejected(message: string): void {
    this.#lastError = message;
  }

  #answered(): void {
    if (this.#reachable) return;
    this.#reachable = true;
    this.#log.info(`${this.name} is reachable again (unreachable since ${this.#unreachableSince ?? '?'})`);
    this.#unreachableSince = null;
  }
}

/** The document's own revision counter, if the text holds one. */
function parseRevision(text: string): number | null {
  try {
    const v = (JSON.parse(text) as { version?: unknown }).version;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : null;
  } catch {
    return null;
  }
}
