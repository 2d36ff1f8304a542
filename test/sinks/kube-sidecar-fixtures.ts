// Shared pieces of the Kubernetes Sidecar sink tests: Sidecars as the reconciler renders them, a
// sink on a double (or a proxy in front of it), and reads of what the double stores.

import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { HostRecord } from '../../src/reconcile/managed-sidecar.ts';
import { renderSidecar } from '../../src/reconcile/managed-sidecar.ts';
import { createLogger } from '../../src/platform/log.ts';
import { KubeSidecarSink, type KubeSidecarSinkOptions } from '../../src/sinks/kubernetes/kube-sidecar-sink.ts';
import type { SidecarObject, SidecarWrite } from '../../src/sinks/sidecar-sink.ts';
import type { KubeDouble } from '../support/kube-double/index.ts';

export const T0 = Date.parse('2026-03-01T00:00:00Z');
export const NS = 'bookinfo';
export const host = (svc: string, ns = NS) => `${ns}/${svc}.${ns}.svc.cluster.local`;

/** A managed Sidecar for workload `name` observing `hosts` (all seen and written at `at`). */
export function sidecar(name: string, hosts: readonly string[], at = T0): SidecarObject {
  const records = new Map<string, HostRecord>(hosts.map((h) => [h, { lastSeen: at, writtenAt: at }]));
  return renderSidecar({ namespace: NS, name, workloadKind: 'Deployment', selector: { app: name }, selectorWrittenAt: at, defaults: ['istio-system/*'], hosts: records });
}

export const write = (object: SidecarObject, removedHosts: string[] = []): SidecarWrite => ({ object, removedHosts });

export function newSink(kubeConfig: KubeConfig, over: Partial<KubeSidecarSinkOptions> = {}): { sink: KubeSidecarSink; registry: Registry } {
  const registry = new Registry();
  // random() = 0 keeps the backoff at its floor (50 ms × attempt) so retries stay quick.
  const sink = new KubeSidecarSink({ kubeConfig, log: createLogger('silent'), registry, random: () => 0, ...over });
  return { sink, registry };
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

interface StoredShape {
  metadata: { resourceVersion: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { egress?: Array<{ hosts?: string[] }>; workloadSelector?: { labels: Record<string, string> } };
}

export function stored(double: KubeDouble, name: string, namespace = NS): StoredShape | null {
  return double.get('networking.istio.io/v1', 'Sidecar', namespace, name) as StoredShape | null;
}

export function storedHosts(double: KubeDouble, name: string): string[] {
  return (stored(double, name)?.spec.egress ?? []).flatMap((e) => e.hosts ?? []);
}

/** A Sidecar a person wrote: no managed-by label. */
export function userSidecar(name: string, hosts: string[]): object {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name, namespace: NS, labels: { team: 'checkout' } }, spec: { egress: [{ hosts }] } };
}

export function countRequests(double: KubeDouble, method: string): number {
  return double.stats.requests({ method, pathPrefix: '/apis/networking.istio.io/' });
}
