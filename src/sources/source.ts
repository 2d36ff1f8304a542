// The one contract every source of world data implements: snapshot files in embedded mode, the
// upstream Consul (blocking queries) and Kubernetes (informers) in live mode. The world feed
// (feed.ts) is the only thing that starts sources and hears from them.

export interface SourceStatus {
  readonly name: string;
  /** True once the source has delivered a complete first version (a live source: its initial list). */
  readonly synced: boolean;
  /** What the source is synced to: a file's content digest, a Consul index, a resourceVersion; null before the first version. */
  readonly version: string | null;
  /** Epoch milliseconds of the last version delivered; null before the first one. */
  readonly lastChangeAt: number | null;
  /** The current failure; null once a good version has arrived since. */
  readonly lastError: string | null;
  /** Versions delivered, the first one included. */
  readonly loads: number;
  /** Failures (each distinct bad version or outage counts once). */
  readonly errors: number;
  /** Facts specific to the kind of source (the file a snapshot reads, the upstream address, …). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** Where a source delivers: each new complete version, and each distinct failure (the last good version stays in effect). */
export interface SourceListener<T> {
  data(value: T): void;
  error(err: Error): void;
  /** The source cannot follow its upstream (true) or follows it again (false); called once per transition. Its last version stays in effect. */
  stale(stale: boolean): void;
}

export interface Source<T> {
  readonly name: string;
  /**
   * Start watching. Resolves once the source runs: a snapshot source has delivered its first
   * version by then (and rejects if it cannot, so a typo never starts an empty world); a live
   * source may resolve before it has synced and deliver later. Aborting `signal` stops every
   * watcher, timer and connection; no listener call happens after the abort.
   */
  start(listener: SourceListener<T>, signal: AbortSignal): Promise<void>;
  status(): SourceStatus;
}
