// Shared by the live Kubernetes source tests: API objects as a cluster holds them, and a source
// started against the Kubernetes API double that records every listener call in order.

import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';
import { KubeLiveSource, type KubeLiveOptions } from '../../src/sources/kube-live/index.ts';
import type { KubeSnapshot } from '../../src/world/kube-types.ts';
import type { KubeDouble } from '../support/kube-double/index.ts';

const CREATED = '2026-02-01T10:00:00Z';

export function namespaceObject(name: string): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, creationTimestamp: CREATED } };
}

export interface PodOptions {
  readonly meshed?: boolean;
  readonly ready?: boolean;
  readonly labels?: Record<string, string>;
  /** The Deployment that owns the Pod through a ReplicaSet. */
  readonly deployment?: string;
  readonly phase?: string;
}

/** A Pod as the API returns it, managedFields and all (the source must keep none of that). */
export function podObject(namespace: string, name: string, ip: string, opts: PodOptions = {}): object {
  const hash = '5d8f7c9b6';
  const labels = { ...(opts.labels ?? {}), ...(opts.deployment ? { 'pod-template-hash': hash } : {}) };
  const containers = [{ name: 'app', image: 'registry.example.com/app:1.0', ports: [{ containerPort: 8080, protocol: 'TCP' }] }];
  if (opts.meshed ?? true) containers.push({ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.22.0', ports: [] });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels,
      creationTimestamp: CREATED,
      ownerReferences: opts.deployment ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${opts.deployment}-${hash}`, uid: `rs-${opts.deployment}`, controller: true }] : [],
      managedFields: [{ manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: CREATED, fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:podIP': {} } } }],
    },
    spec: { containers, nodeName: 'node-1' },
    status: {
      phase: opts.phase ?? 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      startTime: CREATED,
      conditions: [{ type: 'Ready', status: (opts.ready ?? true) ? 'True' : 'False', lastTransitionTime: CREATED }],
    },
  };
}

export function serviceObject(namespace: string, name: string, clusterIP: string, ports: Array<{ name?: string; port: number }>, consulName?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, creationTimestamp: CREATED, annotations: consulName ? { 'consul.hashicorp.com/service-name': consulName } : {} },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: 'TCP', targetPort: p.port })) },
  };
}

export function sliceObject(namespace: string, service: string, endpoints: Array<{ pod: string; ip: string; ready?: boolean }>): object {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abcde`, namespace, creationTimestamp: CREATED, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, targetRef: { kind: 'Pod', namespace, name: e.pod } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

export function sidecarObject(namespace: string, name: string, hosts: string[], opts: { selector?: Record<string, string>; managed?: boolean } = {}): object {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: { name, namespace, creationTimestamp: CREATED, labels: opts.managed ? { 'app.kubernetes.io/managed-by': 'discovery' } : {} },
    spec: { ...(opts.selector ? { workloadSelector: { labels: opts.selector } } : {}), egress: [{ hosts }] },
  };
}

export type ListenerCall = { readonly kind: 'data'; readonly snapshot: KubeSnapshot } | { readonly kind: 'stale'; readonly stale: boolean } | { readonly kind: 'error'; readonly message: string };

export interface Running {
  readonly source: KubeLiveSource;
  readonly registry: Registry;
  readonly calls: ListenerCall[];
  readonly abort: AbortController;
  /** The snapshots delivered so far. */
  deliveries(): KubeSnapshot[];
  /** The last snapshot delivered; fails when there is none. */
  latest(): KubeSnapshot;
  stale(): boolean[];
}

/** Starts a source against the double with test-sized timings; every listener call is recorded. */
export async function startSource(double: KubeDouble, opts: Partial<KubeLiveOptions> = {}): Promise<Running> {
  const registry = new Registry();
  const source = new KubeLiveSource({
    kubeConfig: double.kubeConfig(),
    clock: systemClock,
    log: createLogger('silent'),
    registry,
    timeoutSeconds: 5,
    backoff: { initialMs: 50, maxMs: 400 },
    staleAfterMs: 60_000,
    ...opts,
  });
  const calls: ListenerCall[] = [];
  const abort = new AbortController();
  await source.start(
    {
      data: (snapshot) => calls.push({ kind: 'data', snapshot }),
      error: (err) => calls.push({ kind: 'error', message: err.message }),
      stale: (stale) => calls.push({ kind: 'stale', stale }),
    },
    abort.signal,
  );
  const deliveries = () => calls.flatMap((c) => (c.kind === 'data' ? [c.snapshot] : []));
  return {
    source,
    registry,
    calls,
    abort,
    deliveries,
    latest: () => {
      const all = deliveries();
      assert.ok(all.length > 0, 'nothing delivered yet');
      return all[all.length - 1]!;
    },
    stale: () => calls.flatMap((c) => (c.kind === 'stale' ? [c.stale] : [])),
  };
}

/** The value of one series of a counter or gauge (0 when absent). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `no metric ${name}`);
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return hit?.value ?? 0;
}

export const podNames = (s: KubeSnapshot): string[] => s.pods.map((p) => `${p.namespace}/${p.name}`);
