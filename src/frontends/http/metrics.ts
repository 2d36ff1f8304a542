// HTTP front-end metrics, registered into the shared registry (ctx.registry).

import { Counter, Gauge, type Registry } from 'prom-client';
import { FastHistogram } from '../../platform/fast-histogram.ts';

/** From 50 µs (a cached read) to 10 min (a blocking query held for its whole wait). */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10, 60, 300, 600];

export interface HttpMetrics {
  readonly requests: Counter<'route' | 'code'>;
  readonly waiters: Gauge;
  /** Time to answer, by route pattern and whether the request was a blocking query (`index` given: its time includes the wait). */
  readonly latency: FastHistogram<'route' | 'blocking'>;
}

/** `waiters` reads the live count at scrape time, so parking a query costs no metric update. */
export function createHttpMetrics(registry: Registry, waiterCount: () => number): HttpMetrics {
  const existing = registry.getSingleMetric('discovery_http_requests_total');
  // A second HTTP front end on the same registry (tests) reuses the metrics rather than throwing.
  if (existing) {
    return {
      requests: existing as Counter<'route' | 'code'>,
      waiters: registry.getSingleMetric('discovery_http_blocking_waiters') as Gauge,
      latency: registry.getSingleMetric('discovery_http_request_duration_seconds') as FastHistogram<'route' | 'blocking'>,
    };
  }
  return {
    requests: new Counter({
      name: 'discovery_http_requests_total',
      help: 'Consul HTTP API requests answered, by route pattern and status code.',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
    waiters: new Gauge({
      name: 'discovery_http_blocking_waiters',
      help: 'Blocking queries currently parked, waiting for a change or their timeout.',
      registers: [registry],
      collect() {
        this.set(waiterCount());
      },
    }),
    latency: new FastHistogram({
      name: 'discovery_http_request_duration_seconds',
      help: 'Consul HTTP API requests, time from the request to its answer, by route pattern and blocking (true: an index was given, the time includes the wait).',
      labelNames: ['route', 'blocking'],
      buckets: LATENCY_BUCKETS,
      registry,
    }),
  };
}
