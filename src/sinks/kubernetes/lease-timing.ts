// The elector's three durations, checked as client-go checks them, and its pause between tries.

import type { Clock } from '../../platform/clock.ts';

/** client-go's jitter for tries by a replica that does not hold the Lease: the pause is retry × (1 + 1.2 × rand). */
export const JITTER_FACTOR = 1.2;

export interface LeaseTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** Defaults 15 s / 10 s / 2 s; given only a lease duration, the other two keep those proportions. */
export function leaseTimings(given: Partial<LeaseTimings>): LeaseTimings {
  const leaseDurationMs = given.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = given.renewDeadlineMs ?? Math.round((leaseDurationMs * 2) / 3);
  const retryPeriodMs = given.retryPeriodMs ?? Math.round((leaseDurationMs * 2) / 15);
  if (!(leaseDurationMs > renewDeadlineMs)) throw new Error(`lease elector: the lease duration (${leaseDurationMs} ms) must be longer than the renew deadline (${renewDeadlineMs} ms)`);
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs)) {
    throw new Error(`lease elector: the renew deadline (${renewDeadlineMs} ms) must be longer than ${JITTER_FACTOR} × the retry period (${retryPeriodMs} ms)`);
  }
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      timer.cancel();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimer(ms, done);
    signal.addEventListener('abort', done, { once: true });
  });
}
