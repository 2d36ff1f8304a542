// DNS metrics. The hot path bumps plain numbers; prom-client reads them at scrape time
// (a labelled Counter.inc per query would cost as much as answering it).

import { Counter, Gauge, type Registry } from 'prom-client';
import { FastHistogram, type HistogramSeries } from '../../platform/fast-histogram.ts';
import type { Transport } from './assemble.ts';

/** From 20 µs (a cached answer) to 2.5 s (a forward to a slow recursor). */
const LATENCY_BUCKETS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export class DnsMetrics {
  /** [transport][rcode 0-15] */
  readonly #replies = { udp: new Array<number>(16).fill(0), tcp: new Array<number>(16).fill(0) };
  readonly #counts = { dropped: 0, errors: 0 };
  readonly #latency: Record<Transport, HistogramSeries>;

  constructor(registry: Registry, cache: { readonly size: number; readonly misses: number }) {
    const replies = this.#replies;
    const counts = this.#counts;
    for (const name of ['discovery_dns_replies_total', 'discovery_dns_dropped_total', 'discovery_dns_errors_total', 'discovery_dns_cache_builds_total', 'discovery_dns_cache_entries', 'discovery_dns_request_duration_seconds']) {
      registry.removeSingleMetric(name);
    }
    new Counter({
      name: 'discovery_dns_replies_total',
      help: 'DNS replies sent, by transport and response code.',
      labelNames: ['transport', 'rcode'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of ['udp', 'tcp'] as const) {
          replies[t].forEach((v, code) => v > 0 && this.inc({ transport: t, rcode: RCODE_NAMES[code] ?? String(code) }, v));
        }
      },
    });
    new Counter({
      name: 'discovery_dns_dropped_total',
      help: 'DNS messages not answered (responses, messages shorter than a header), as Consul ignores them.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(counts.dropped);
      },
    });
    new Counter({
      name: 'discovery_dns_errors_total',
      help: 'Internal errors while answering (answered SERVFAIL); should stay 0.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(counts.errors);
      },
    });
    new Counter({
      name: 'discovery_dns_cache_builds_total',
      help: 'Answers encoded into the DNS answer cache (one per name, type and change of the world).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(cache.misses);
      },
    });
    const latency = new FastHistogram({
      name: 'discovery_dns_request_duration_seconds',
      help: 'Time from a DNS message received to its answer ready (forwarded queries: until the recursor answered), by transport.',
      labelNames: ['transport'],
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.#latency = { udp: latency.series({ transport: 'udp' }), tcp: latency.series({ transport: 'tcp' }) };
    new Gauge({
      name: 'discovery_dns_cache_entries',
      help: 'Names currently held in the DNS answer cache.',
      registers: [registry],
      collect() {
        this.set(cache.size);
      },
    });
  }

  reply(transport: Transport, msg: Buffer): void {
    this.#replies[transport][msg[3]! & 0xf]!++;
  }

  /** `startedAt`: performance.now() when the message arrived. */
  answered(transport: Transport, startedAt: number): void {
    this.#latency[transport].observe((performance.now() - startedAt) / 1000);
  }

  dropped(): void {
    this.#counts.dropped++;
  }

  error(): void {
    this.#counts.errors++;
  }
}
