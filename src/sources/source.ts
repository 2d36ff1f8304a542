// The one contract every source of world data implements: snapshot files today, a live Consul
// (blocking queries) and Kubernetes (informers) later. The app only ever sees this interface.

export interface SourceStatus {
  readonly name: string;
  /** The file a snapshot source reads; absent for live sources. */
  readonly file?: string;
  /** Epoch milliseconds of the last successful load; null before the first one. */
  readonly lastLoadAt: number | null;
  /** Message of the current failure; null once a good version has loaded since. */
  readonly lastError: string | null;
  /** Successful loads, the initial one included. */
  readonly loads: number;
  /** Failed loads (each distinct bad version counts once). */
  readonly errors: number;
}

export interface Source<T> {
  readonly name: string;
  /**
   * Deliver the initial data through `onData` before resolving, then every new valid version.
   * Rejects with DiscoveryError('DSC_ERR_SNAPSHOT' for snapshot files) when no initial data can be had.
   */
  start(onData: (data: T) => void): Promise<void>;
  /** Release every watcher, timer and connection; no callback fires after it resolves. */
  stop(): Promise<void>;
  status(): SourceStatus;
}

/**
 * Called when a later version is rejected. The source keeps the last good data and reports each
 * distinct failure once, so a file that stays broken does not flood the log.
 */
export type SourceErrorHandler = (err: Error) => void;
