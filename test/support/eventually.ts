// Waiting for an asynchronous effect in a test: retry a probe until it passes, within a bound.

export interface EventuallyOptions {
  /** How long to keep retrying before failing; 5 s unless given. */
  timeoutMs?: number;
  /** Pause between two attempts; 10 ms unless given. */
  intervalMs?: number;
}

/**
 * Retries `probe` until it returns without throwing, and resolves with what it returned.
 *
 * A probe says "not yet" by throwing, usually through an assertion (`assert.equal(x.waiting(), 1)`),
 * so a timeout reports the last failure: "timed out after 5000 ms waiting for <what>: <last error>".
 * A probe that returns a boolean fails at once: `() => x === 1` would pass on `false`, so write
 * the condition as an assertion instead. The bound is on the whole wait; each attempt should be
 * quick on its own (a probe that hangs is not interrupted).
 */
export async function eventually<T>(probe: () => T | Promise<T>, what: string, opts: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let outcome: { passed: true; value: T } | { passed: false; failure: unknown };
    try {
      outcome = { passed: true, value: await probe() };
    } catch (failure) {
      outcome = { passed: false, failure };
    }
    if (outcome.passed) {
      if (typeof outcome.value === 'boolean') {
        throw new TypeError(`eventually(${what}): the probe returned a boolean; assert the condition instead (a probe passes by not throwing)`);
      }
      return outcome.value;
    }
    const { failure } = outcome;
    if (Date.now() >= deadline) {
      const reason = failure instanceof Error ? failure.message : String(failure);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${reason}`, { cause: failure });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
