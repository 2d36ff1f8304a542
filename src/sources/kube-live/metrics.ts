// The live Kubernetes source's metrics: what the watches deliver, why they restart, and whether
// the source has fallen behind the API server.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { KindName } from './kinds.ts';

/** Why a watch was opened again: the server ended it (closed), its resourceVersion expired (410, re-list), a LIST or WATCH failed (error), or it went silent (stall). */
export type RestartReason = 'closed' | 'expired' | 'error' | 'stall';

export class KubeLiveMetrics {
  readonly events: Counter<'kind' | 'type'>;
  readonly restarts: Counter<'kind' | 'reason'>;
  readonly stale: Gauge;

  /** `objects(kind)`: how many objects of the kind the source keeps, read at scrape time. */
  constructor(registry: Registry, objects: (kind: KindName) => number, kinds: readonly KindName[]) {
    this.events = new Counter({
      name: 'discovery_kube_events_total',
      help: 'Kubernetes watch events received, by kind and event type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).',
      labelNames: ['kind', 'type'],
      registers: [registry],
    });
    this.restarts = new Counter({
      name: 'discovery_kube_watch_restarts_total',
      help: 'Kubernetes watches opened again, by kind and reason: closed (the server ended it), expired (410, re-listed), error (LIST or WATCH failed, retried with backoff), stall (no sign of life, restarted by the watchdog).',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    });
    this.stale = new Gauge({
      name: 'discovery_kube_stale',
      help: '1 while the Kubernetes source cannot follow the API server (every answer is then HAProxy, reason kube-stale), else 0.',
      registers: [registry],
    });
    this.stale.set(0);
    new Gauge({
      name: 'discovery_kube_objects',
      help: 'Kubernetes objects the live source keeps (in their slim form), by kind.',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        for (const kind of kinds) this.set({ kind }, objects(kind));
      },
    });
  }
}
