// The operator controls in memory: the current mode and pins, the index stamps that make blocking
// queries wake at once, and the change notifications. Where the state is stored (a backend) and
// the audit trail (an audit log) are dependencies; every change is audited before it is stored.

import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import { DiscoveryError } from '../platform/errors.ts';
import { SerialQueue } from '../platform/serial-queue.ts';
import type { ChangeBus, IndexClock } from '../world/changes.ts';
import type { AuditEntry, AuditLog } from './audit-log.ts';
import type { ControlBackend } from './backend.ts';
import type { Actor, ControlState, Pin, VersionedState } from './state.ts';
import { INITIAL_CONTROL_STATE, SERVICE_NAME_RE, WORKLOAD_RE, pinKey } from './state.ts';

export interface ControlStoreDeps {
  readonly backend: ControlBackend;
  readonly audit: AuditLog;
  readonly indexClock: IndexClock;
  readonly bus: ChangeBus;
  /** Wall clock for change and audit times. Default: the system clock. */
  readonly now?: () => Date;
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
  /** Changes are worked out, audited and saved one at a time. */
  readonly #writes = new SerialQueue();

  private constructor(deps: ControlStoreDeps) {
    this.#backend = deps.backend;
    this.#audit = deps.audit;
    this.#clock = deps.indexClock;
    this.#bus = deps.bus;
    this.#now = deps.now ?? (() => new Date());
    this.#modeIndex = deps.indexClock.next();
  }

  /** Loads the stored state (nothing stored: hybrid, no pins). A stored state that does not validate is an error, never silently reset. */
  static async open(deps: ControlStoreDeps): Promise<ControlStore> {
    const store = new ControlStore(deps);
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

  get state(): ControlState {
    return this.#state;
  }

  get mode(): Mode {
    return this.#state.mode;
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

  /** The last `limit` audit entries, oldest first. */
  audit(limit = 100): Promise<AuditEntry[]> {
    return this.#audit.read(limit);
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
        await this.#audit.append(change.entry);
        const saved = await this.#backend.saveIfVersion(change.next, baseVersion);
        if (saved.ok) {
          this.#version = saved.version;
          this.#apply(change.next);
          change.wake();
          return this.#state;
        }
        this.#adopt(saved.current ?? { state: this.#state, version: 0 });
        if (attempt >= SAVE_ATTEMPTS) {
          throw new DiscoveryError('DSC_ERR_STATE', `the control state in ${this.#backend.name} kept changing while this change was saved; it was not applied, try again`);
        }
      }
    });
  }

  /** Takes in a state stored by someone else, waking what its differences can affect. */
  #adopt(value: VersionedState): void {
    const before = this.#state;
    this.#version = value.version;
    this.#apply(value.state);
    if (before.mode !== value.state.mode) this.#stampMode();
    else this.#stampServices(changedServices(before.pins, value.state.pins));
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

function subjectOf(service: string, caller: string | undefined): string {
  return caller ? `${caller} -> ${service}` : service;
}

/** Services with a pin added, removed or changed between two pin lists. */
function changedServices(before: readonly Pin[], after: readonly Pin[]): Set<string> {
  const was = new Map(before.map((p) => [pinKey(p.service, p.caller), p]));
  const changed = new Set<string>();
  for (const p of after) {
    const k = pinKey(p.service, p.caller);
    const old = was.get(k);
    if (!old || !samePin(old, p)) changed.add(p.service);
    was.delete(k);
  }
  for (const p of was.values()) changed.add(p.service);
  return changed;
}

function samePin(a: Pin, b: Pin): boolean {
  return a.service === b.service && a.caller === b.caller && a.reason === b.reason && a.actor === b.actor && a.at === b.at;
}
