// What the double saw: requests per path and the last 10,000 of them.

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly token: string | null;
  readonly at: number;
}

const LOG_SIZE = 10_000;

export class RequestStats {
  private readonly counts = new Map<string, number>();
  private entries: RequestLogEntry[] = [];

  record(entry: RequestLogEntry): void {
    this.counts.set(entry.path, (this.counts.get(entry.path) ?? 0) + 1);
    this.entries.push(entry);
    if (this.entries.length > LOG_SIZE * 2) this.entries = this.entries.slice(-LOG_SIZE);
  }

  requests(prefix = ''): number {
    let n = 0;
    for (const [path, count] of this.counts) if (path.startsWith(prefix)) n += count;
    return n;
  }

  log(): ReadonlyArray<RequestLogEntry> {
    return this.entries.slice(-LOG_SIZE);
  }

  reset(): void {
    this.counts.clear();
    this.entries = [];
  }
}
