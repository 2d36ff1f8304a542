// One blocking-query loop, following Consul's rules for clients (docs/adr/0008-consul-watch-layout.md):
// the first request (and the first after an index reset) is a plain read; after it each request
// blocks on the last index, which is reset to 0 when the upstream's goes backwards and is never
// below 1 otherwise; a token bucket (burst 2, then one per 500 ms unless the watch asks for
// another rate) paces the loop; a failure waits a jittered, growing delay (1 s up to 30 s).
// Whether anything changed is for the handler to decide by comparing contents: a new index alone
// is not a change.

import type { Clock } from '../../platform/clock.ts';
import { Backoff, TokenBucket, pause } from './pacing.ts';
import type { UpstreamHttp } from './upstream-http.ts';
import { readIndex, readJson } from './upstream-json.ts';

/** What a request was for, as the metrics label it. */
export type RequestKind = 'services' | 'health-state' | 'nodes' | 'hot' | 'read' | 'probe' | 'node-services' | 'node-health' | 'summaries';

/** A blocking answer sent after a token-bucket pause counts as parked only if it took at least this long. */
export const PARKED_MIN_MS = 50;

export interface AnswerInfo {
  /** X-Consul-Index of this answer. */
  readonly index: number;
  /** The index the request blocked on (0: a plain read). */
  readonly previous: number;
  /** The index went backwards (a snapshot restore upstream): the loop starts over from a plain read. */
  readonly backwards: boolean;
  /** The request blocked on its index and was woken by a change after it was sent (see PARKED_MIN_MS). */
  readonly parked: boolean;
}

export interface WatchSpec {
  readonly kind: RequestKind;
  /** Path without the query, its parts already encoded. */
  readonly path: string;
  /** Query parameters other than index and wait ("stale", "stale&cached", …). */
  readonly params: string;
  /** Index to block on from the first request (0: start with a plain read). */
  readonly startIndex?: number;
  /** The token bucket's refill: at most one request per this many ms once its burst of 2 is spent (default 500). */
  readonly refillMs?: number;
  /** A good answer; throws MalformedAnswer when the body cannot be used (the index then stays where it was). */
  readonly onAnswer: (body: unknown, info: AnswerInfo) => void;
}

export interface WatchDeps {
  readonly http: UpstreamHttp;
  readonly clock: Clock;
  readonly random: () => number;
  readonly waitMs: number;
  /** Every request's result, for metrics, reachability and the log (error null: a good answer). */
  readonly outcome: (kind: RequestKind, path: string, startedAt: number, error: unknown) => void;
}

/** Consul adds up to wait/16 of jitter to a blocking wait; the slack covers the network and a slow body. */
export function blockingTimeoutMs(waitMs: number): number {
  return Math.ceil(waitMs + waitMs / 16 + Math.min(10_000, Math.max(500, waitMs / 8)));
}

/** A plain read answers at once; this long without an answer means the upstream hangs. */
export function readTimeoutMs(waitMs: number): number {
  return Math.min(10_000, Math.max(2_000, waitMs));
}

export class BlockingWatch {
  readonly #deps: WatchDeps;
  readonly #spec: WatchSpec;
  readonly #abort = new AbortController();
  readonly #bucket: TokenBucket;
  readonly #backoff: Backoff;
  readonly #parent: AbortSignal;
  #index: number;

  constructor(deps: WatchDeps, spec: WatchSpec, parent: AbortSignal) {
    this.#deps = deps;
    this.#spec = spec;
    this.#index = spec.startIndex ?? 0;
    this.#bucket = new TokenBucket(deps.clock, 2, spec.refillMs ?? 500);
    this.#backoff = new Backoff(deps.random);
    this.#parent = parent;
    if (parent.aborted) this.#abort.abort();
    else parent.addEventListener('abort', this.#onParentAbort, { once: true });
  }

  readonly #onParentAbort = (): void => this.#abort.abort();

  get index(): number {
    return this.#index;
  }

  start(): void {
    void this.#loop();
  }

  stop(): void {
    this.#parent.removeEventListener('abort', this.#onParentAbort);
    this.#abort.abort();
  }

  async #loop(): Promise<void> {
    const { http, clock, waitMs, outcome } = this.#deps;
    const { kind, path, params } = this.#spec;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let paced = false;
      for (let wait = this.#bucket.take(); wait > 0 && !signal.aborted; wait = this.#bucket.take()) {
        paced = true;
        await pause(clock, wait, signal);
      }
      if (signal.aborted) return;
      const previous = this.#index;
      const blocking = previous > 0;
      const query = blocking ? `${params}&index=${previous}&wait=${waitMs}ms` : params;
      const startedAt = clock.now();
      try {
        const answer = await http.get(path, query, blocking ? blockingTimeoutMs(waitMs) : readTimeoutMs(waitMs), signal);
        if (signal.aborted) return;
        // An index of 0 is never blocked on: it is taken as 1, which is always safe.
        const index = Math.max(1, readIndex(answer.index));
        const body = readJson(answer.body);
        const backwards = index < previous;
        // After a pause of the token bucket, an answer that came at once may hold every change of
        // the pause; one that waited parked was woken by the first change after it was sent.
        const parked = blocking && (!paced || clock.now() - startedAt >= PARKED_MIN_MS);
        this.#spec.onAnswer(body, { index, previous, backwards, parked });
        this.#index = backwards ? 0 : index;
        this.#backoff.reset();
        outcome(kind, path, startedAt, null);
      } catch (err) {
        if (signal.aborted) return;
        outcome(kind, path, startedAt, err);
        await pause(clock, this.#backoff.next(), signal);
      }
    }
  }
}
