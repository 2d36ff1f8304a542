// Counters of the Kubernetes Sidecar sink. Looked up before they are made, so a second sink on the
// same registry (two replicas in one test process) shares them instead of failing to register.

import { Counter, type Registry } from 'prom-client';

export type WriteOp = 'create' | 'update' | 'delete';
/**
 * ok: written; unchanged: nothing to write after the merge; absent: already deleted; refused: the
 * object is not Discovery's (or the write lacks the label); exhausted: still losing races after the
 * last attempt; error: any other failure.
 */
export type WriteResult = 'ok' | 'unchanged' | 'absent' | 'refused' | 'exhausted' | 'error';

export interface KubeSinkMetrics {
  readonly writes: Counter<'op' | 'result'>;
  readonly conflicts: Counter;
}

function existing<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createKubeSinkMetrics(registry: Registry): KubeSinkMetrics {
  return {
    writes: existing(
      registry,
      'discovery_kube_sidecar_writes_total',
      () =>
        new Counter({
          name: 'discovery_kube_sidecar_writes_total',
          help: 'Sidecar creates, updates and deletes against the Kubernetes API, by outcome.',
          labelNames: ['op', 'result'],
          registers: [registry],
        }),
    ),
    conflicts: existing(
      registry,
      'discovery_kube_sidecar_conflicts_total',
      () =>
        new Counter({
          name: 'discovery_kube_sidecar_conflicts_total',
          help: 'Sidecar writes answered 409 (another replica wrote first, or a create race), each followed by a fresh read and a retry.',
          registers: [registry],
        }),
    ),
  };
}
