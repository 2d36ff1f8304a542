// The operator controls in memory: the current mode and pins, the index stamps that make blocking
// queries wake at once, and the change notifications. Where the state is stored (a backend) and
// the audit trail (an audit log) are dependencies; every change is audited before it is stored.
// On top of the shared state a replica may carry a local override of its mode (local-override.ts):
// it wins on this replica until cleared, for when the shared state cannot be changed.

import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import { SerialQueue } from '../platform/serial-queue.ts';
import type { ChangeBus, IndexClock } from '../world/changes.ts';
import type { AuditEntry, AuditLog } from './audit-log.ts';
import type { ControlBackend, ControlBackendHealth, SaveResult } from './backend.ts';
import { ControlWriteError, changedServices, mergeAuditTrails, subjectOf } from './control-support.ts';
import type { LocalOverride, LocalOverrideStore } from './local-override.ts';
import type { Actor, ControlState, Pin, VersionedState } from './state.ts';
import { INITIAL_CONTROL_STATE, SERVICE_NAME_RE, WORKLOAD_RE, pinKey } from './state.ts';

export { ControlWriteError } from './control-support.ts';

export interface ControlStoreDeps {
  readonly backend: ControlBackend;
  readonly audit: AuditLog;
  readonly indexClock: IndexClock;
  readonly bus: ChangeBus;
  /** Wall clock for change and audit times. Default: the system clock. */
  readonly now?: () => Date;
  /** This replica's name, recorded in every audit entry it writes. */
  readonly replica?: string;
  /** Where this replica keeps its local override (the state dir); absent: no local override can be set. */
  readonly localOverride?: LocalOverrideStore;
  /**
   * A trail on this replica's disk for its local override changes, which must be recorded even
   * when the shared trail cannot be written; they are also copied to the shared trail when it
   * answers. Absent: they go to `audit` like every other change (right when `audit` is on local disk).
   */
  readonly localAudit?: AuditLog;
}

/** What `discovery status` shows: the mode in force here and where it comes from. */
export interface ControlStatus {
  /** The mode this replica answers with: its local override's when one is set, else the shared mode. */
  readonly mode: Mode;
  readonly shared: ControlState;
  readonly localOverride: LocalOverride | null;
  readonly backend: ControlBackendHealth;
  readonly replica: string | null;
}

/** A change worked out on top of a base state: what to store, what to audit, whom to wake. */
interface PlannedChange {
  readonly next: ControlState;
  readonly entry: AuditEntry;
  readonly wake: () => void;
}

/** A save that loses the version race is tried once more on top of the state that won. */
const SAVE_ATTEMPTS = 2;

export class ControlStore {
  #state: ControlState = INITIAL_CONTROL_STATE;
  /** The backend version #state was loaded or saved as. */
  #version = 0;
  #pins = new Map<string, Pin>();
  #modeIndex: number;
  readonly #pinIndex = new Map<string, number>();
  readonly #backend: ControlBackend;
  readonly #audit: AuditLog;
  readonly #clock: IndexClock;
  readonly #bus: ChangeBus;
  readonly #now: () => Date;
  readonly #replica: string | null;
  readonly #overrideStore: LocalOverrideStore | null;
  readonly #localAudit: AuditLog | null;
  #override: LocalOverride | null = null;
  /** Changes are worked out, audited and saved one at a time. */
  readonly #writes = new SerialQueue();

  private constructor(deps: ControlStoreDeps) {
    this.#backend = deps.backend;
    this.#audit = deps.audit;
    this.#clock = deps.indexClock;
    this.#bus = deps.bus;
    this.#now = deps.now ?? (() => new Date());
    this.#replica = deps.replica ?? null;
    this.#overrideStore = deps.localOverride ?? null;
    this.#localAudit = deps.localAudit ?? null;
    this.#modeIndex = deps.indexClock.next();
  }

  /** Loads the stored state (nothing stored: hybrid, no pins). A stored state that does not validate is an error, never silently reset. */
  static async open(deps: ControlStoreDeps): Promise<ControlStore> {
    const store = new ControlStore(deps);
    store.#override = (await deps.localOverride?.load()) ?? null;
    const loaded = await deps.backend.load();
    if (loaded) {
      store.#version = loaded.version;
      store.#apply(loaded.state);
    }
    return store;
  }

  /**
   * Follow changes other replicas make through the same backend, so one `discovery killswitch on`
   * reaches every replica. A stored change that does not validate goes to `onError` and is
   * ignored: the current state stays in effect. Stops when `signal` aborts.
   */
  watch(signal: AbortSignal, onError: (message: string) => void): void {
    this.#backend.watch((value) => this.#adopt(value), onError, signal);
  }

  /** The shared state (without the local override). */
  get state(): ControlState {
    return this.#state;
  }

  /** The mode in force on this replica: the local override's, else the shared one. */
  get mode(): Mode {
    return this.#override?.mode ?? this.#state.mode;
  }

  get localOverride(): LocalOverride | null {
    return this.#override;
  }

  status(): ControlStatus {
    const health = this.#backend.health?.() ?? { kind: 'file', name: this.#backend.name, reachable: true, unreachableSince: null, lastError: null, source: 'store' as const };
    return { mode: this.mode, shared: this.#state, localOverride: this.#override, backend: health, replica: this.#replica };
  }

  get modeIndex(): number {
    return this.#modeIndex;
  }

  /** Index of everything operator-controlled that can change `service`'s answer. */
  index(service: string): number {
    const p = this.#pinIndex.get(service);
    return p !== undefined && p > this.#modeIndex ? p : this.#modeIndex;
  }

  pinFor(service: string, callerWorkload: string | null): Pin | undefined {
    if (this.#pins.size === 0) return undefined;
    return this.#pins.get(service) ?? (callerWorkload ? this.#pins.get(pinKey(service, callerWorkload)) : undefined);
  }

  async setMode(mode: Mode, who: Actor): Promise<ControlState> {
    if (!MODES.includes(mode)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `mode must be one of ${MODES.join(', ')}`);
    return this.#commit((base, at) => ({
      next: { ...base, mode, modeReason: who.reason, modeChangedAt: at, modeChangedBy: who.actor },
      entry: { at, action: 'mode', subject: 'mode', before: base.mode, after: mode, actor: who.actor, reason: who.reason },
      wake: () => this.#stampMode(),
    }));
  }

  async pin(service: string, caller: string | undefined, who: Actor): Promise<ControlState> {
    const key = service.toLowerCase();
    if (!SERVICE_NAME_RE.test(key)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `"${service}" is not a valid Consul service name`);
    if (caller !== undefined && !WORKLOAD_RE.test(caller)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `--caller must be a workload as namespace/name, got "${caller}"`);
    if (!who.reason.trim()) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', 'a pin needs a reason');
    const k = pinKey(key, caller);
    return this.#commit((base, at) => {
      const pin: Pin = { service: key, ...(caller ? { caller } : {}), reason: who.reason, actor: who.actor, at };
      const before = base.pins.find((p) => pinKey(p.service, p.caller) === k) ?? null;
      return {
        next: { ...base, pins: [...base.pins.filter((p) => pinKey(p.service, p.caller) !== k), pin] },
        entry: { at, action: 'pin', subject: subjectOf(key, caller), before, after: pin, actor: who.actor, reason: who.reason },
        wake: () => this.#stampServices([key]),
      };
    });
  }

  async unpin(service: string, caller: string | undefined, who: Actor): Promise<ControlState> {
    const key = service.toLowerCase();
    const k = pinKey(key, caller);
    return this.#commit((base, at) => {
      const existing = base.pins.find((p) => pinKey(p.service, p.caller) === k);
      if (!existing) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `no pin for ${caller ? `${caller} -> ` : ''}${key}`);
      return {
        next: { ...base, pins: base.pins.filter((p) => p !== existing) },
        entry: { at, action: 'unpin', subject: subjectOf(key, caller), before: existing, after: null, actor: who.actor, reason: who.reason },
        wake: () => this.#stampServices([key]),
      };
    });
  }

  /**
   * Sets this replica's own mode, over the shared one, until it is cleared; kept across restarts.
   * Recorded in the audit trail with `local: true`. Needs no shared store.
   */
  async setLocalOverride(mode: Mode, who: Actor): Promise<ControlStatus> {
    if (!MODES.includes(mode)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `mode must be one of ${MODES.join(', ')}`);
    if (!who.reason.trim()) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', 'a local override needs a reason');
    const store = this.#overrideStoreOrFail();
    return this.#writes.run(async () => {
      const at = this.#now().toISOString();
      const override: LocalOverride = { mode, reason: who.reason, actor: who.actor, at };
      await this.#auditLocal({ at, action: 'mode', subject: 'local override', before: this.mode, after: mode, actor: who.actor, reason: who.reason, ...this.#replicaField(), local: true });
      await store.save(override);
      this.#setOverride(override);
      return this.status();
    });
  }

  /** Removes this replica's local override: the shared mode is in force again. */
  async clearLocalOverride(who: Actor): Promise<ControlStatus> {
    const store = this.#overrideStoreOrFail();
    return this.#writes.run(async () => {
      if (!this.#override) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', 'this replica has no local override to clear');
      const at = this.#now().toISOString();
      await this.#auditLocal({ at, action: 'mode', subject: 'local override', before: this.#override.mode, after: this.#state.mode, actor: who.actor, reason: who.reason, ...this.#replicaField(), local: true });
      await store.save(null);
      this.#setOverride(null);
      return this.status();
    });
  }

  /** The last `limit` audit entries, oldest first (with this replica's local override changes when they are kept apart). */
  async audit(limit = 100): Promise<AuditEntry[]> {
    const shared = await this.#audit.read(limit);
    if (!this.#localAudit) return shared;
    return mergeAuditTrails(shared, await this.#localAudit.read(limit), limit);
  }

  /**
   * Audit first, then save: an audited change that failed to store is visible, an unaudited
   * change is impossible. When another writer stored a new version since `base` was read, that
   * version is taken in and the change is worked out again on top of it, so neither change is
   * lost (the audit trail then also shows the attempt that lost the race).
   */
  #commit(plan: (base: ControlState, at: string) => PlannedChange): Promise<ControlState> {
    return this.#writes.run(async () => {
      for (let attempt = 1; ; attempt++) {
        const baseVersion = this.#version;
        const change = plan(this.#state, this.#now().toISOString());
        let saved: SaveResult;
        try {
          await this.#audit.append({ ...change.entry, ...this.#replicaField() });
          saved = await this.#backend.saveIfVersion(change.next, baseVersion);
        } catch (err) {
          throw new ControlWriteError(`cannot change the control state in ${this.#backend.name}: ${errorMessage(err)}`, err);
        }
        if (saved.ok) {
          this.#version = saved.version;
          this.#apply(change.next);
          change.wake();
          return this.#state;
        }
        this.#adopt(saved.current ?? { state: this.#state, version: 0 });
        if (attempt >= SAVE_ATTEMPTS) {
          throw new ControlWriteError(`the control state in ${this.#backend.name} kept changing while this change was saved; it was not applied, try again`);
        }
      }
    });
  }

  /** Takes in a state stored by someone else, waking what its differences can affect. */
  #adopt(value: VersionedState): void {
    const before = this.#state;
    const modeBefore = this.mode;
    this.#version = value.version;
    this.#apply(value.state);
    if (modeBefore !== this.mode) this.#stampMode();
    else this.#stampServices(changedServices(before.pins, value.state.pins));
  }

  #setOverride(override: LocalOverride | null): void {
    const before = this.mode;
    this.#override = override;
    if (this.mode !== before) this.#stampMode();
  }

  #overrideStoreOrFail(): LocalOverrideStore {
    if (!this.#overrideStore) throw new DiscoveryError('DSC_ERR_STATE', 'this replica keeps no local override (no state dir is configured for it)');
    return this.#overrideStore;
  }

  #replicaField(): { replica?: string } {
    return this.#replica !== null ? { replica: this.#replica } : {};
  }

  /**
   * A local override change is recorded on this replica's disk first (it must not depend on the
   * shared store), then copied to the shared trail in the background; a failed copy leaves the
   * local record, which audit() lists.
   */
  async #auditLocal(entry: AuditEntry): Promise<void> {
    if (!this.#localAudit) return this.#audit.append(entry);
    await this.#localAudit.append(entry);
    this.#audit.append(entry).catch(() => undefined);
  }

  #apply(state: ControlState): void {
    this.#state = state;
    this.#pins = new Map(state.pins.map((p) => [pinKey(p.service, p.caller), p]));
  }

  #stampMode(): void {
    this.#modeIndex = this.#clock.next();
    this.#bus.publish({ all: true, services: new Set(), callers: new Set() });
  }

  #stampServices(services: Iterable<string>): void {
    const changed = new Set(services);
    if (changed.size === 0) return;
    for (const s of changed) this.#pinIndex.set(s, this.#clock.next());
    this.#bus.publish({ all: false, services: changed, callers: new Set() });
  }
}
