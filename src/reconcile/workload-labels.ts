// The workloadSelector of a managed Sidecar: labels every Pod of the workload carries, minus the
// ones a controller or Istio stamps per Pod, per revision or per run. Using the intersection over
// all current Pods keeps the selector matching every Pod; the overlap check keeps it to only them.

import type { PodInfo } from '../world/kube-types.ts';
import { compareStrings } from '../platform/compare.ts';

/** Labels that differ between Pods of one workload or between its revisions. */
export const VOLATILE_LABELS: ReadonlySet<string> = new Set([
  'pod-template-hash', // ReplicaSet per Deployment revision
  'controller-revision-hash', // StatefulSet / DaemonSet revision
  'pod-template-generation', // DaemonSet (legacy)
  'statefulset.kubernetes.io/pod-name', // one per Pod
  'apps.kubernetes.io/pod-index',
  'controller-uid', // one per Job run (CronJob Pods keep only the CronJob-level labels)
  'batch.kubernetes.io/controller-uid',
  'job-name',
  'batch.kubernetes.io/job-name',
  'batch.kubernetes.io/job-completion-index',
  // Stamped by Istio's injector, not by the workload's owner: absent on Pods not yet injected,
  // and canonical-revision changes with every version by design.
  'security.istio.io/tlsMode',
  'service.istio.io/canonical-name',
  'service.istio.io/canonical-revision',
]);

/** Intersection of the Pods' labels minus volatile ones; null when the Pods share no stable label. */
export function stableSelector(pods: readonly PodInfo[]): Record<string, string> | null {
  if (pods.length === 0) return null;
  const common = new Map<string, string>();
  for (const [k, v] of Object.entries(pods[0]!.labels)) if (!VOLATILE_LABELS.has(k)) common.set(k, v);
  for (const p of pods.slice(1)) {
    for (const [k, v] of common) if (p.labels[k] !== v) common.delete(k);
  }
  if (common.size === 0) return null;
  return Object.fromEntries([...common.entries()].sort(([a], [b]) => compareStrings(a, b)));
}
