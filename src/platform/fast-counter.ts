// A Prometheus counter for per-request paths. prom-client's Counter.inc hashes the label set into a
// string key on every call (as much work as the rest of a cached HTTP answer's bookkeeping); here
// each label set is a series bound once, whose inc() bumps a plain number, and the counts are added
// into prom-client's own Counter when it is read, so the exposition is prom-client's.

import { Counter, type Registry } from 'prom-client';

type Labels<T extends string> = Partial<Record<T, string | number>>;

/** One label set's count since the last scrape. */
export class CounterSeries {
  pending = 0;

  inc(): void {
    this.pending++;
  }
}

export class FastCounter<T extends string = string> extends Counter<T> {
  readonly #series = new Map<string, { labels: Labels<T>; series: CounterSeries }>();
  readonly #labelNames: readonly T[];

  constructor(opts: { name: string; help: string; labelNames: readonly T[]; registry: Registry }) {
    super({ name: opts.name, help: opts.help, labelNames: opts.labelNames, registers: [opts.registry] });
    this.#labelNames = opts.labelNames;
  }

  /** The series of one label set, made on first use: keep it and call its inc() on the hot path. */
  series(labels: Labels<T>): CounterSeries {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let s = this.#series.get(key);
    if (!s) {
      // Labels in declaration order, whatever order the caller wrote them in: one exposition per set.
      const ordered: Labels<T> = {};
      for (const n of this.#labelNames) if (labels[n] !== undefined) ordered[n] = labels[n];
      s = { labels: ordered, series: new CounterSeries() };
      this.#series.set(key, s);
      // The series is exported (at 0) from its first use, as prom-client does for labels().
      this.inc(s.labels, 0);
    }
    return s.series;
  }

  override async get(): ReturnType<Counter<T>['get']> {
    for (const { labels, series } of this.#series.values()) {
      if (series.pending === 0) continue;
      this.inc(labels, series.pending);
      series.pending = 0;
    }
    return super.get();
  }

  override reset(): void {
    super.reset();
    // The base constructor calls reset() before this class's fields exist.
    if (!(#series in this)) return;
    for (const { series } of this.#series.values()) series.pending = 0;
  }
}
