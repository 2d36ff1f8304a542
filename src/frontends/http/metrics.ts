// HTTP front-end metrics, registered into the shared registry (ctx.registry).

import { Gauge, type Registry } from 'prom-client';
import { FastCounter, type CounterSeries } from '../../platform/fast-counter.ts';
import { FastHistogram, type HistogramSeries } from '../../platform/fast-histogram.ts';

/** From 50 µs (a cached read) to 10 min (a blocking query held for its whole wait). */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10, 60, 300, 600];

export interface HttpMetrics {
  readonly requests: FastCounter<'route' | 'code'>;
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
      requests: existing as FastCounter<'route' | 'code'>,
      waiters: registry.getSingleMetric('discovery_http_blocking_waiters') as Gauge,
      latency: registry.getSingleMetric('discovery_http_request_duration_seconds') as FastHistogram<'route' | 'blocking'>,
    };
  }
  return {
    requests: new FastCounter({
      name: 'discovery_http_requests_total',
      help: 'Consul HTTP API requests answered, by route pattern and status code.',
      labelNames: ['route', 'code'],
      registry,
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

/**
 * One route's request metrics, its series bound once: counting a request is a lookup by status
 * code (a number, no string built) and two number updates.
 */
export class RouteMetrics {
  readonly #metrics: HttpMetrics;
  readonly #route: string;
  readonly #byStatus = new Map<number, CounterSeries>();
  readonly #plain: HistogramSeries;
  readonly #blocking: HistogramSeries;

  constructor(metrics: HttpMetrics, route: string) {
    this.#metrics = metrics;
    this.#route = route;
    this.#plain = metrics.latency.series({ route, blocking: 'false' });
    this.#blocking = metrics.latency.series({ route, blocking: 'true' });
  }

  /** `startedAt`: performance.now() when the request arrived; `blocking`: an index was given. */
  record(status: number, startedAt: number, blocking: boolean): void {
    let count = this.#byStatus.get(status);
    if (count === undefined) {
      count = this.#metrics.requests.series({ route: this.#route, code: String(status) });
      this.#byStatus.set(status, count);
    }
    count.inc();
    (blocking ? this.#blocking : this.#plain).observe((performance.now() - startedAt) / 1000);
  }
}

/** RouteMetrics per route pattern, made on first use. */
export function routeMetricsOf(metrics: HttpMetrics): (route: string) => RouteMetrics {
  const byRoute = new Map<string, RouteMetrics>();
  return (route) => {
    let m = byRoute.get(route);
    if (m === undefined) byRoute.set(route, (m = new RouteMetrics(metrics, route)));
    return m;
  };
}
