// Live-mode metrics of the HTTP front end: requests passed through to the upstream Consul agent,
// those refused over the blocking cap, and the ACL probes. No label ever carries a token, a path
// or a service name (unbounded, and a path may hold a secret).

import { Counter, Gauge, type Registry } from 'prom-client';

export type PassReason = 'not-answered' | 'killswitch' | 'unsynced' | 'other-dc' | 'acl' | 'agent-write';

/** `none`: the caller went away, or the upstream failed mid-answer, before a status could be counted. */
export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'none';

export type AclProbeResult = 'allowed' | 'filtered' | 'forbidden' | 'error';

export interface PassthroughMetrics {
  readonly requests: Counter<'reason' | 'status_class'>;
  readonly inflight: Gauge<'blocking'>;
  readonly rejected: Counter;
  readonly aclChecks: Counter<'result'>;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  // A second front end on the same registry (tests) shares the metrics rather than throwing.
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createPassthroughMetrics(registry: Registry): PassthroughMetrics {
  return {
    requests: reuse(
      registry,
      'discovery_passthrough_requests_total',
      () =>
        new Counter({
          name: 'discovery_passthrough_requests_total',
          help: 'Requests passed through to the upstream Consul agent, by why and by the class of the status sent back (none: caller gone or upstream failed mid-answer).',
          labelNames: ['reason', 'status_class'],
          registers: [registry],
        }),
    ),
    inflight: reuse(
      registry,
      'discovery_passthrough_inflight',
      () =>
        new Gauge({
          name: 'discovery_passthrough_inflight',
          help: 'Requests being passed through to the upstream Consul agent now; blocking="true" for blocking queries (index > 0).',
          labelNames: ['blocking'],
          registers: [registry],
        }),
    ),
    rejected: reuse(
      registry,
      'discovery_passthrough_rejected_total',
      () =>
        new Counter({
          name: 'discovery_passthrough_rejected_total',
          help: 'Blocking requests answered 429 because the cap on passed-through blocking queries was reached.',
          registers: [registry],
        }),
    ),
    aclChecks: reuse(
      registry,
      'discovery_acl_checks_total',
      () =>
        new Counter({
          name: 'discovery_acl_checks_total',
          help: "Probes of a caller token's read rights at the upstream, by outcome (allowed, filtered, forbidden, error).",
          labelNames: ['result'],
          registers: [registry],
        }),
    ),
  };
}

export function statusClass(status: number): StatusClass {
  if (status >= 200 && status < 300) return '2xx';
  if (status >= 300 && status < 400) return '3xx';
  if (status >= 400 && status < 500) return '4xx';
  if (status >= 500 && status < 600) return '5xx';
  return 'none';
}
