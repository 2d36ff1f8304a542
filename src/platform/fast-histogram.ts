// A Prometheus histogram for per-request paths. prom-client's Histogram.observe hashes the label
// set and walks its buckets on every call (about half a microsecond, as much as answering a cached
// DNS query); here each label set is a series bound once, whose observe() only bumps plain numbers,
// and the exposition (the same _bucket/_sum/_count lines prom-client writes) is built at scrape time.

import { Histogram, type Registry } from 'prom-client';

type Labels<T extends string> = Partial<Record<T, string | number>>;

/** One label set's counts: observe() is a bucket scan and three number updates. */
export class HistogramSeries {
  readonly #bounds: readonly number[];
  /** Per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class FastHistogram<T extends string = string> extends Histogram<T> {
  readonly #name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, { labels: Labels<T>; series: HistogramSeries }>();

  constructor(opts: { name: string; help: string; labelNames: readonly T[]; buckets: readonly number[]; registry: Registry }) {
    super({ name: opts.name, help: opts.help, labelNames: opts.labelNames, buckets: [...opts.buckets], registers: [opts.registry] });
    this.#name = opts.name;
    this.#help = opts.help;
    this.#bounds = [...opts.buckets].sort((a, b) => a - b);
  }

  /** The series of one label set, made on first use: keep it and call its observe() on the hot path. */
  series(labels: Labels<T>): HistogramSeries {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: { ...labels }, series: new HistogramSeries(this.#bounds) };
      this.#series.set(key, s);
    }
    return s.series;
  }

  #values(): ExportedValue[] {
    const out: ExportedValue[] = [];
    for (const { labels, series } of this.#series.values()) {
      const base = labels as Record<string, string | number>;
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += series.counts[i]!;
        out.push({ value: cumulative, labels: { le, ...base }, metricName: `${this.#name}_bucket` });
      });
      cumulative += series.counts[this.#bounds.length]!;
      out.push({ value: cumulative, labels: { le: '+Inf', ...base }, metricName: `${this.#name}_bucket` });
      out.push({ value: series.sum, labels: base, metricName: `${this.#name}_sum` });
      out.push({ value: series.count, labels: base, metricName: `${this.#name}_count` });
    }
    return out;
  }

  override async get(): ReturnType<Histogram<T>['get']> {
    const metric = { name: this.#name, help: this.#help, type: 'histogram', aggregator: 'sum', values: this.#values() };
    return metric as unknown as Awaited<ReturnType<Histogram<T>['get']>>;
  }

  /** What the registry reads for the text exposition. */
  async getForPromString(): ReturnType<Histogram<T>['get']> {
    return this.get();
  }

  override reset(): void {
    // The base constructor calls reset() before this class's fields exist.
    if (!(#series in this)) return;
    for (const { series } of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
