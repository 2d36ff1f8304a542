// Every request the double received, for tests to count (method, path, query, status).

import { requestMatches, type RequestMatch } from './faults.ts';

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Date.now() when the request arrived. */
  readonly at: number;
  /** The response status; 0 while no response has started. */
  status: number;
}

export function isWatchQuery(query: Readonly<Record<string, string>>): boolean {
  return query.watch === 'true' || query.watch === '1';
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];

  record(method: string, path: string, query: Record<string, string>): RequestLogEntry {
    const entry: RequestLogEntry = { method, path, query, at: Date.now(), status: 0 };
    this.entries.push(entry);
    return entry;
  }

  count(match?: RequestMatch): number {
    let n = 0;
    for (const e of this.entries) if (requestMatches(match, { method: e.method, path: e.path, watch: isWatchQuery(e.query) })) n++;
    return n;
  }

  snapshot(): ReadonlyArray<Readonly<RequestLogEntry>> {
    return this.entries.map((e) => ({ ...e }));
  }

  reset(): void {
    this.entries = [];
  }
}
