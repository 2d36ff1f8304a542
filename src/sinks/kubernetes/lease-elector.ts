// Leader election on a coordination.k8s.io/v1 Lease, following client-go's rules (docs/adr/0009):
// - take the Lease only when nobody holds it, or when its record has not changed for the lease
//   duration as measured on this replica's clock since this replica saw it change (the other
//   replica's clock is never trusted);
// - as holder, renew every retry period; every write carries the resourceVersion read, so of two
//   replicas racing for it exactly one wins (409 for the other);
// - leadership lasts until renewDeadline after the start of the last successful write: past it,
//   isLeader() is false whether or not a request is still pending, and a takeover by another
//   replica needs a full lease duration after it saw that write, which is longer;
// - on stop, step down at once and release the Lease (clear the holder) so another replica takes
//   over on its next try instead of after the lease duration.

import { CoordinationV1Api, type ConfigurationOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import type { Clock, Timer } from '../../platform/clock.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Logger } from '../../platform/log.ts';
import { apiFailure, isConflict, isNotFound } from './api-errors.ts';
import { leaseRecord, leaseSpec, sameRecord, type LeaseRecord } from './lease-record.ts';
import { JITTER_FACTOR, leaseTimings, sleepUnlessAborted } from './lease-timing.ts';
import { requestTimeout } from './request-options.ts';

export interface LeaseElectorOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The Lease's name; 'discovery-reconciler' unless given. */
  readonly name?: string;
  /** This replica (its Pod name); must differ between replicas. */
  readonly identity: string;
  /** How long a silent holder keeps the Lease; 15 s unless given. */
  readonly leaseDurationMs?: number;
  /** How long the holder may go without a successful renewal before it steps down; 2/3 of the lease duration unless given. */
  readonly renewDeadlineMs?: number;
  /** Pause between two tries; 2/15 of the lease duration unless given (2 s for 15 s). */
  readonly retryPeriodMs?: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  /** [0, 1) source for the jitter of a non-holder's tries; Math.random unless given. */
  readonly random?: () => number;
}

export interface LeaseStatus {
  readonly leader: boolean;
  readonly identity: string;
  /** Holder named by the last record this replica saw ('' = nobody), null before the first read. */
  readonly holder: string | null;
  readonly leaseTransitions: number | null;
  /** When this replica stops believing it leads unless it renews first (ms since the epoch), null when not leading. */
  readonly leaderUntil: number | null;
  /** The last failed try, if the last try failed. */
  readonly lastError: string | null;
}

export class LeaseElector {
  readonly #api: CoordinationV1Api;
  readonly #o: Required<Omit<LeaseElectorOptions, 'kubeConfig' | 'registry'>>;
  readonly #log: Logger;
  readonly #request: ConfigurationOptions;
  readonly #gauge: Gauge;
  readonly #listeners = new Set<(leader: boolean) => void>();
  #leading = false;
  #leaderUntil = 0;
  #deadline: Timer | null = null;
  #observed: LeaseRecord | null = null;
  /** Local time at which #observed was first seen (it changed). */
  #observedAt = 0;
  /** The Lease as last read or written, for the conditional write of the release. */
  #lease: V1Lease | null = null;
  #lastError: string | null = null;
  #signal: AbortSignal | null = null;
  #stopped: Promise<void> = Promise.resolve();

  constructor(opts: LeaseElectorOptions) {
    if (!opts.identity) throw new Error('lease elector: identity must not be empty (use the Pod name)');
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = leaseTimings(opts);
    this.#o = {
      namespace: opts.namespace,
      name: opts.name ?? 'discovery-reconciler',
      identity: opts.identity,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      clock: opts.clock,
      log: opts.log,
      random: opts.random ?? Math.random,
    };
    this.#api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#log = opts.log.child({ component: 'lease-elector', lease: `${opts.namespace}/${this.#o.name}`, identity: opts.identity });
    this.#request = requestTimeout(renewDeadlineMs);
    this.#gauge =
      (opts.registry.getSingleMetric('discovery_lease_leader') as Gauge | undefined) ??
      new Gauge({
        name: 'discovery_lease_leader',
        help: 'Whether this replica holds the reconciler Lease (1) or not (0).',
        registers: [opts.registry],
        // Leadership also ends when the renew deadline passes, before the loop notices: a scrape reads isLeader() itself.
        collect: () => this.#gauge.set(this.isLeader() ? 1 : 0),
      });
    this.#gauge.set(0);
  }

  /** Runs the election until `signal` aborts; then steps down and releases the Lease. Call once. */
  start(signal: AbortSignal): void {
    if (this.#signal) throw new Error('lease elector: start() was already called');
    this.#signal = signal;
    signal.addEventListener('abort', () => this.#setLeading(false, 'stopping'), { once: true });
    this.#stopped = this.#run(signal).catch((err: unknown) => this.#log.error({ err }, 'lease election stopped on an unexpected error'));
  }

  /** Resolves once the loop has ended and the Lease is released (or the release failed). */
  whenStopped(): Promise<void> {
    return this.#stopped;
  }

  /** True only while the last successful renewal is younger than the renew deadline. */
  isLeader(): boolean {
    return this.#leading && this.#o.clock.now() < this.#leaderUntil;
  }

  /** Called with the new value on every change of isLeader(); returns the unsubscribe. */
  onChange(listener: (leader: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  status(): LeaseStatus {
    const leader = this.isLeader();
    return {
      leader,
      identity: this.#o.identity,
      holder: this.#observed?.holder ?? null,
      leaseTransitions: this.#observed?.leaseTransitions ?? null,
      leaderUntil: leader ? this.#leaderUntil : null,
      lastError: this.#lastError,
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#tryAcquireOrRenew(signal);
      } catch (err) {
        // Whatever went wrong, the next try starts from a fresh read; the deadline still bounds leadership.
        this.#failed(`lease election try failed: ${errorMessage(err)}`);
      }
      const wait = this.#leading ? this.#o.retryPeriodMs : this.#o.retryPeriodMs * (1 + JITTER_FACTOR * this.#o.random());
      await sleepUnlessAborted(this.#o.clock, wait, signal);
    }
    await this.#release();
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<void> {
    const { identity, namespace, name } = this.#o;
    // Leadership is counted from before the request: the server stored the write no earlier, so
    // no other replica can have seen it earlier either.
    const started = this.#o.clock.now();
    let current: V1Lease;
    try {
      current = await this.#api.readNamespacedLease({ namespace, name }, this.#request);
    } catch (err) {
      const f = apiFailure(err);
      if (!isNotFound(f)) return this.#failed(`cannot read Lease ${namespace}/${name}: ${f.message}`);
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: leaseSpec({ holder: identity, leaseDurationSeconds: this.#leaseSeconds(), acquireTime: started, renewTime: started, leaseTransitions: 0 }),
      };
      try {
        this.#won(await this.#api.createNamespacedLease({ namespace, body }, this.#request), started, signal);
      } catch (createErr) {
        const c = apiFailure(createErr);
        this.#failed(isConflict(c) ? null : `cannot create Lease ${namespace}/${name}: ${c.message}`);
      }
      return;
    }

    const record = leaseRecord(current);
    this.#observe(current, record);
    const heldByMe = record.holder === identity;
    if (record.holder !== '' && !heldByMe && this.#o.clock.now() < this.#observedAt + this.#durationOf(record)) {
      // Someone else holds it and has renewed within the lease duration, as far as this clock can tell.
      this.#lastError = null;
      this.#setLeading(false, `held by ${record.holder}`);
      return;
    }
    const acquiredAt = heldByMe ? Date.parse(record.acquireTime) : NaN;
    const body: V1Lease = {
      ...current,
      spec: {
        ...current.spec,
        ...leaseSpec({
          holder: identity,
          leaseDurationSeconds: this.#leaseSeconds(),
          acquireTime: Number.isFinite(acquiredAt) ? acquiredAt : started,
          renewTime: started,
          leaseTransitions: heldByMe ? record.leaseTransitions : record.leaseTransitions + 1,
        }),
      },
    };
    try {
      this.#won(await this.#api.replaceNamespacedLease({ namespace, name, body }, this.#request), started, signal);
    } catch (err) {
      const f = apiFailure(err);
      // 409: another replica wrote the Lease since the read; it is theirs this round.
      this.#failed(isConflict(f) ? null : `cannot ${heldByMe ? 'renew' : 'take'} Lease ${namespace}/${name}: ${f.message}`);
    }
  }

  #won(lease: V1Lease, started: number, signal: AbortSignal): void {
    this.#observe(lease, leaseRecord(lease));
    this.#lastError = null;
    if (signal.aborted) return; // stopping: the release clears what was just written
    this.#leaderUntil = started + this.#o.renewDeadlineMs;
    this.#armDeadline();
    this.#setLeading(this.#o.clock.now() < this.#leaderUntil, 'acquired');
  }

  /** Steps down when the renew deadline passes without a renewal. A timer may fire a millisecond early: then it waits for the rest. */
  #armDeadline(): void {
    this.#deadline?.cancel();
    this.#deadline = this.#o.clock.setTimer(Math.max(0, this.#leaderUntil - this.#o.clock.now()), () => {
      this.#deadline = null;
      if (!this.#leading) return;
      if (this.#o.clock.now() < this.#leaderUntil) return this.#armDeadline();
      this.#setLeading(false, `no renewal within the renew deadline (${this.#o.renewDeadlineMs} ms)`);
    });
  }

  /** A try that did not make this replica the holder; null: lost a race, nothing to report. */
  #failed(error: string | null): void {
    if (error !== null && this.#lastError === null) this.#log.warn({ error }, 'lease election try failed');
    else if (error !== null) this.#log.debug({ error }, 'lease election try failed');
    this.#lastError = error;
    // A holder keeps leading until its deadline (the timer steps it down); a race lost as holder means someone else has it.
    if (error === null) this.#setLeading(false, 'lost a race for the Lease');
  }

  #observe(lease: V1Lease, record: LeaseRecord): void {
    this.#lease = lease;
    if (!sameRecord(this.#observed, record)) {
      this.#observed = record;
      this.#observedAt = this.#o.clock.now();
    }
  }

  /** The holder's own duration when it wrote one, else ours. */
  #durationOf(record: LeaseRecord): number {
    return record.leaseDurationSeconds > 0 ? record.leaseDurationSeconds * 1000 : this.#o.leaseDurationMs;
  }

  #leaseSeconds(): number {
    return Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000));
  }

  /** Clears the holder (if the last record seen names this replica) so another replica need not wait out the lease. */
  async #release(): Promise<void> {
    this.#deadline?.cancel();
    this.#setLeading(false, 'stopping');
    const lease = this.#lease;
    if (!lease || this.#observed?.holder !== this.#o.identity) return;
    const { namespace, name } = this.#o;
    const now = this.#o.clock.now();
    const body: V1Lease = {
      ...lease,
      spec: { ...lease.spec, ...leaseSpec({ holder: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: this.#observed.leaseTransitions }) },
    };
    try {
      const released = await this.#api.replaceNamespacedLease({ namespace, name, body }, this.#request);
      this.#observe(released, leaseRecord(released));
      this.#log.info('released the Lease');
    } catch (err) {
      this.#log.warn({ error: apiFailure(err).message }, 'could not release the Lease; another replica takes it after the lease duration');
    }
  }

  #setLeading(leading: boolean, why: string): void {
    if (leading && this.#signal?.aborted) return;
    if (leading === this.#leading) return;
    this.#leading = leading;
    if (!leading) {
      this.#deadline?.cancel();
      this.#deadline = null;
    }
    this.#gauge.set(leading ? 1 : 0);
    this.#log.info({ leader: leading, reason: why }, leading ? 'became the leader' : 'stopped leading');
    for (const listener of [...this.#listeners]) {
      try {
        listener(leading);
      } catch (err) {
        this.#log.error({ error: errorMessage(err) }, 'a leadership listener threw');
      }
    }
  }

}
