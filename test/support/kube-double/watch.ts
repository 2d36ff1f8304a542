// One watch response: a chunked stream of JSON events, one a line, written as the store changes.
// Starts from the current state (no resourceVersion, or "0"), or replays the kept history after a
// given resourceVersion; a resourceVersion older than the history gets an in-stream 410 ERROR.

import type { ServerResponse } from 'node:http';
import type { ResourceType } from './resources.ts';
import { selects, type ObjectFilter } from './filter.ts';
import { expired, tooLargeResourceVersion, type KubeStatusError } from './status.ts';
import { atResourceVersion, type ObjectStore, type StoredObject, type StoreEvent } from './store.ts';

export interface WatchRequest extends ObjectFilter {
  readonly type: ResourceType;
  readonly bookmarks: boolean;
  /** `sendInitialEvents=true`: end the initial events with a BOOKMARK marked initial-events-end. */
  readonly sendInitialEvents: boolean;
  /** The parsed resourceVersion; null when absent or "0" (start from the current state). */
  readonly resourceVersion: number | null;
  readonly timeoutSeconds: number | null;
}

/** How long a watch from a resourceVersion the store has not reached waits before failing. */
const FUTURE_RV_WAIT_MS = 3000;

export class WatchStream {
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private live = false;
  private stalledFlag = false;
  private readonly res: ServerResponse;
  private readonly request: WatchRequest;
  private readonly store: ObjectStore;
  private readonly onClose: (stream: WatchStream) => void;

  constructor(res: ServerResponse, request: WatchRequest, store: ObjectStore, onClose: (stream: WatchStream) => void) {
    this.res = res;
    this.request = request;
    this.store = store;
    this.onClose = onClose;
    res.on('close', () => this.finish());
  }

  /** Sends the headers, then the initial state or the replay; `stalled` sends the headers only. */
  start(stalled: boolean): void {
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
    if (stalled) {
      this.stall();
      return;
    }
    if (this.request.timeoutSeconds !== null) {
      this.timer = setTimeout(() => this.end(), this.request.timeoutSeconds * 1000);
    }
    const rv = this.request.resourceVersion;
    if (rv !== null && rv > this.store.resourceVersion) {
      this.waitForResourceVersion(rv);
      return;
    }
    this.begin();
  }

  private waitForResourceVersion(rv: number): void {
    const give = setTimeout(() => {
      stop();
      this.fail(tooLargeResourceVersion(rv, this.store.resourceVersion));
    }, FUTURE_RV_WAIT_MS);
    // Any type's write moves the resourceVersion this watch waits for.
    const stopListening = this.store.subscribe(null, () => {
      if (this.store.resourceVersion >= rv) {
        stop();
        this.begin();
      }
    });
    const stop = (): void => {
      clearTimeout(give);
      stopListening();
      this.unsubscribe = null;
    };
    this.unsubscribe = stop;
  }

  private begin(): void {
    if (!this.writable || this.stalledFlag) return;
    const rv = this.request.resourceVersion;
    let lines = '';
    if (rv === null) {
      const { type, namespace } = this.request;
      const candidates = this.request.name !== null ? [this.store.get(type, namespace, this.request.name)] : this.store.list(type, namespace);
      for (const stored of candidates) if (stored && this.matches(stored)) lines += eventLine('ADDED', stored.json);
      if (this.request.sendInitialEvents && this.request.bookmarks) lines += this.bookmarkLine(true);
    } else {
      const events = this.store.history.since(rv);
      if (events === null) {
        this.fail(expired(`too old resource version: ${rv} (${this.store.history.floor})`));
        return;
      }
      for (const event of events) lines += this.lineFor(event);
    }
    this.unsubscribe = this.store.subscribe(this.request.type, (event) => this.deliver(event));
    this.live = true;
    if (lines !== '') this.res.write(lines);
  }

  private matches(stored: StoredObject): boolean {
    return selects(this.request, stored);
  }

  /** The line a watcher with this filter sees for an event ('' for none), as the watch cache filters. */
  private lineFor(event: StoreEvent): string {
    // The history holds every type's events; a watch follows one type.
    if (event.object.type !== this.request.type) return '';
    if (event.type === 'ADDED') return this.matches(event.object) ? eventLine('ADDED', event.object.json) : '';
    if (event.type === 'DELETED') return this.matches(event.object) ? eventLine('DELETED', event.object.json) : '';
    const now = this.matches(event.object);
    const before = event.previous !== null && this.matches(event.previous);
    if (now && before) return eventLine('MODIFIED', event.object.json);
    if (now) return eventLine('ADDED', event.object.json);
    if (before && event.previous) return eventLine('DELETED', atResourceVersion(event.previous, event.rv).json);
    return '';
  }

  /** Whether anything may still be written (the socket can be gone before the close event). */
  private get writable(): boolean {
    return !this.closed && !this.res.writableEnded && !this.res.destroyed;
  }

  private deliver(event: StoreEvent): void {
    if (!this.writable || this.stalledFlag) return;
    const line = this.lineFor(event);
    if (line !== '') this.res.write(line);
  }

  /** A BOOKMARK at the store's current resourceVersion (ignored unless asked for, or while stalled). */
  bookmark(): void {
    if (!this.writable || this.stalledFlag || !this.live || !this.request.bookmarks) return;
    this.res.write(this.bookmarkLine(false));
  }

  private bookmarkLine(initialEventsEnd: boolean): string {
    const metadata = initialEventsEnd
      ? { resourceVersion: String(this.store.resourceVersion), annotations: { 'k8s.io/initial-events-end': 'true' } }
      : { resourceVersion: String(this.store.resourceVersion) };
    return `${JSON.stringify({ type: 'BOOKMARK', object: { kind: this.request.type.kind, apiVersion: this.request.type.apiVersion, metadata } })}\n`;
  }

  private fail(error: KubeStatusError): void {
    if (!this.writable) return;
    this.res.end(`${JSON.stringify({ type: 'ERROR', object: error.status })}\n`);
    this.finish();
  }

  /** From now on nothing reaches the client, and nothing ends the stream but a drop or close. */
  stall(): void {
    this.stalledFlag = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Ends the stream cleanly (the terminating chunk), as timeoutSeconds does. */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.finish();
  }

  /** Destroys the socket: the client sees the stream break off. */
  drop(): void {
    if (this.closed) return;
    this.res.socket?.destroy();
    this.res.destroy();
    this.finish();
  }

  /** Stops delivering and leaves the open-watch set (at once: the response's close event comes later). */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.onClose(this);
  }
}

function eventLine(type: string, objectJson: string): string {
  return `{"type":"${type}","object":${objectJson}}\n`;
}
