// Operator controls: the global mode (hybrid, shadow, consul-only = kill-switch) and pins that force
// a target (or one caller workload's view of a target) back to Consul's answer. Persisted in the
// state dir so a restart keeps them; every change is appended to the audit trail and stamped with
// a new index so blocking queries wake at once.

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { watchFile, type FileWatch } from '../platform/file-watch.ts';
import { join } from 'node:path';
import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import type { ChangeBus, IndexClock } from '../world/changes.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';

export interface Pin {
  /** Lower-cased Consul service name. */
  readonly service: string;
  /** Caller workload `namespace/name`; absent: every caller. */
  readonly caller?: string;
  readonly reason: string;
  readonly actor: string;
  readonly at: string;
}

export interface ControlState {
  readonly mode: Mode;
  readonly modeReason: string;
  readonly modeChangedAt: string | null;
  readonly modeChangedBy: string | null;
  readonly pins: readonly Pin[];
}

export interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly action: 'mode' | 'pin' | 'unpin';
  readonly subject: string;
  readonly reason: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface Actor {
  readonly actor: string;
  readonly reason: string;
}

const INITIAL: ControlState = { mode: 'hybrid', modeReason: '', modeChangedAt: null, modeChangedBy: null, pins: [] };
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
const WORKLOAD_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function pinKey(service: string, caller?: string): string {
  return caller ? `${caller}|${service}` : service;
}

function validateState(raw: unknown): ControlState {
  if (typeof raw !== 'object' || raw === null) throw new Error('not an object');
  const r = raw as Record<string, unknown>;
  if (!MODES.includes(r['mode'] as Mode)) throw new Error(`mode must be one of ${MODES.join(', ')}`);
  if (!Array.isArray(r['pins'])) throw new Error('pins must be an array');
  for (const p of r['pins'] as unknown[]) {
    const pin = p as Record<string, unknown>;
    if (typeof pin['service'] !== 'string' || !NAME_RE.test(pin['service'])) throw new Error('a pin has a bad service');
  }
  return {
    mode: r['mode'] as Mode,
    modeReason: typeof r['modeReason'] === 'string' ? r['modeReason'] : '',
    modeChangedAt: typeof r['modeChangedAt'] === 'string' ? r['modeChangedAt'] : null,
    modeChangedBy: typeof r['modeChangedBy'] === 'string' ? r['modeChangedBy'] : null,
    pins: r['pins'] as Pin[],
  };
}

export class ControlStore {
  #state: ControlState = INITIAL;
  #pins = new Map<string, Pin>();
  #modeIndex: number;
  readonly #pinIndex = new Map<string, number>();
  readonly #dir: string;
  readonly #clock: IndexClock;
  readonly #bus: ChangeBus;
  readonly #now: () => Date;
  /** Serializes writes so two admin calls never interleave their file updates. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The exact text we last read or wrote: anything else in the file was written by another replica. */
  #lastText: string | null = null;
  #watch: FileWatch | null = null;

  private constructor(dir: string, clock: IndexClock, bus: ChangeBus, now: () => Date) {
    this.#dir = dir;
    this.#clock = clock;
    this.#bus = bus;
    this.#now = now;
    this.#modeIndex = clock.next();
  }

  /** Opens (or initializes) the control state in `dir`. A corrupt file is an error, never silently reset. */
  static async open(dir: string, clock: IndexClock, bus: ChangeBus, now: () => Date = () => new Date()): Promise<ControlStore> {
    const store = new ControlStore(dir, clock, bus, now);
    await mkdir(dir, { recursive: true });
    let text: string | null = null;
    try {
      text = await readFile(join(dir, 'control.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DiscoveryError('DSC_ERR_STATE', `cannot read ${join(dir, 'control.json')}: ${errorMessage(err)}`);
    }
    if (text !== null) {
      try {
        store.#apply(validateState(JSON.parse(text)));
        store.#lastText = text;
      } catch (err) {
        throw new DiscoveryError('DSC_ERR_STATE', `state file ${join(dir, 'control.json')} is invalid: ${errorMessage(err)}; fix or remove it`);
      }
    }
    return store;
  }

  /**
   * Follow changes other replicas make to a shared state dir (a shared volume), so one
   * `discovery killswitch on` reaches every replica within the poll interval. A change that does
   * not validate is reported and ignored: the current state stays in effect.
   */
  watchShared(pollIntervalMs: number, onError: (message: string) => void): void {
    if (this.#watch) return;
    const file = join(this.#dir, 'control.json');
    this.#watch = watchFile(file, () => void this.#reloadShared(file, onError), { pollIntervalMs });
  }

  stopWatching(): void {
    this.#watch?.close();
    this.#watch = null;
  }

  async #reloadShared(file: string, onError: (message: string) => void): Promise<void> {
    await this.#queue;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return; // removed or mid-rename: keep the state we have
    }
    if (text === this.#lastText) return;
    let next: ControlState;
    try {
      next = validateState(JSON.parse(text));
    } catch (err) {
      onError(`ignoring a change to ${file} written elsewhere: ${errorMessage(err)}`);
      this.#lastText = text;
      return;
    }
    const before = this.#state;
    this.#lastText = text;
    this.#apply(next);
    const changed = new Set<string>();
    for (const p of [...before.pins, ...next.pins]) changed.add(p.service);
    if (before.mode !== next.mode) {
      this.#modeIndex = this.#clock.next();
      this.#bus.publish({ all: true, services: new Set(), callers: new Set() });
    } else if (changed.size > 0) {
      for (const s of changed) this.#pinIndex.set(s, this.#clock.next());
      this.#bus.publish({ all: false, services: changed, callers: new Set() });
    }
  }

  #apply(state: ControlState): void {
    this.#state = state;
    this.#pins = new Map(state.pins.map((p) => [pinKey(p.service, p.caller), p]));
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
    return this.#change(async () => {
      const before = this.#state.mode;
      const next: ControlState = { ...this.#state, mode, modeReason: who.reason, modeChangedAt: this.#now().toISOString(), modeChangedBy: who.actor };
      await this.#persist(next, { action: 'mode', subject: 'mode', before, after: mode, ...who });
      this.#modeIndex = this.#clock.next();
      this.#bus.publish({ all: true, services: new Set(), callers: new Set() });
    });
  }

  async pin(service: string, caller: string | undefined, who: Actor): Promise<ControlState> {
    const key = service.toLowerCase();
    if (!NAME_RE.test(key)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `"${service}" is not a valid Consul service name`);
    if (caller !== undefined && !WORKLOAD_RE.test(caller)) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `--caller must be a workload as namespace/name, got "${caller}"`);
    if (!who.reason.trim()) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', 'a pin needs a reason');
    return this.#change(async () => {
      const pin: Pin = { service: key, ...(caller ? { caller } : {}), reason: who.reason, actor: who.actor, at: this.#now().toISOString() };
      const pins = [...this.#state.pins.filter((p) => pinKey(p.service, p.caller) !== pinKey(key, caller)), pin];
      const subject = caller ? `${caller} -> ${key}` : key;
      await this.#persist({ ...this.#state, pins }, { action: 'pin', subject, before: this.#pins.get(pinKey(key, caller)) ?? null, after: pin, ...who });
      this.#stampPin(key);
    });
  }

  async unpin(service: string, caller: string | undefined, who: Actor): Promise<ControlState> {
    const key = service.toLowerCase();
    return this.#change(async () => {
      const existing = this.#pins.get(pinKey(key, caller));
      if (!existing) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `no pin for ${caller ? `${caller} -> ` : ''}${key}`);
      const pins = this.#state.pins.filter((p) => p !== existing);
      const subject = caller ? `${caller} -> ${key}` : key;
      await this.#persist({ ...this.#state, pins }, { action: 'unpin', subject, before: existing, after: null, ...who });
      this.#stampPin(key);
    });
  }

  #stampPin(service: string): void {
    this.#pinIndex.set(service, this.#clock.next());
    this.#bus.publish({ all: false, services: new Set([service]), callers: new Set() });
  }

  async audit(limit = 100): Promise<AuditEntry[]> {
    let text = '';
    try {
      text = await readFile(join(this.#dir, 'audit.jsonl'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        entries.push(JSON.parse(line) as AuditEntry);
      } catch {
        // A torn last line after a crash is skipped, not fatal.
      }
    }
    return entries.slice(-limit);
  }

  #change(fn: () => Promise<void>): Promise<ControlState> {
    const run = this.#queue.then(fn).then(() => this.#state);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Audit first, then the state: an audited change that failed to apply is visible; an unaudited change is impossible. */
  async #persist(next: ControlState, entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const audit: AuditEntry = { at: this.#now().toISOString(), ...entry };
    await appendFile(join(this.#dir, 'audit.jsonl'), `${JSON.stringify(audit)}\n`);
    const text = `${JSON.stringify(next, null, 2)}\n`;
    this.#lastText = text;
    await writeFileAtomic(join(this.#dir, 'control.json'), text);
    this.#apply(next);
  }
}
