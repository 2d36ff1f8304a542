// HTTP front-end metrics, registered into the shared registry (ctx.registry).

import { Counter, Gauge, type Registry } from 'prom-client';

export interface HttpMetrics {
  readonly requests: Counter<'route' | 'code'>;
  readonly waiters: Gauge;
}

/** `waiters` reads the live count at scrape time, so parking a query costs no metric update. */
export function createHttpMetrics(registry: Registry, waiterCount: () => number): HttpMetrics {
  const existing = registry.getSingleMetric('discovery_http_requests_total');
  // A second HTTP front end on the same registry (tests) reuses the metrics rather than throwing.
  if (existing) {
    return {
      requests: existing as Counter<'route' | 'code'>,
      waiters: registry.getSingleMetric('discovery_http_blocking_waiters') as Gauge,
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
  };
}
