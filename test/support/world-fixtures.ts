// Small hand-built worlds for unit tests of the decision, lookups and front ends.
// Snapshot-file parsing has its own tests; these builders skip the file formats on purpose.

import type { CheckStatus, ConsulCatalog, ConsulInstance, ConsulNode, ConsulService, HealthCheck } from '../../src/world/consul-types.ts';
import type { EndpointSliceInfo, KubeServiceInfo, KubeSnapshot, PodInfo, SidecarInfo } from '../../src/world/kube-types.ts';

export interface InstanceSpec {
  service: string;
  node: string;
  address: string;
  port: number;
  id?: string;
  serviceAddress?: string;
  tags?: string[];
  status?: CheckStatus;
  nodeStatus?: CheckStatus;
  meta?: Record<string, string>;
  nodeMeta?: Record<string, string>;
  weights?: { Passing: number; Warning: number };
}

function check(node: string, id: string, name: string, status: CheckStatus, serviceId = '', serviceName = '', tags: string[] = []): HealthCheck {
  return { Node: node, CheckID: id, Name: name, Status: status, Notes: '', Output: '', ServiceID: serviceId, ServiceName: serviceName, ServiceTags: tags, Type: '', Interval: '', Timeout: '', CreateIndex: 10, ModifyIndex: 10 };
}

export function catalog(specs: InstanceSpec[], datacenter = 'dc1'): ConsulCatalog {
  const nodes = new Map<string, ConsulNode>();
  const nodeChecks = new Map<string, HealthCheck[]>();
  const services = new Map<string, { name: string; instances: ConsulInstance[] }>();
  for (const s of specs) {
    let node = nodes.get(s.node);
    if (!node) {
      node = { ID: '', Node: s.node, Address: s.address, Datacenter: datacenter, TaggedAddresses: { lan: s.address, wan: s.address }, Meta: s.nodeMeta ?? { 'consul-network-segment': '' }, CreateIndex: 10, ModifyIndex: 10 };
      nodes.set(s.node, node);
      nodeChecks.set(s.node, s.nodeStatus ? [check(s.node, 'serfHealth', 'Serf Health Status', s.nodeStatus)] : []);
    }
    const id = s.id ?? `${s.service}-${s.node}`;
    const tags = s.tags ?? [];
    const svcChecks = [check(s.node, `service:${id}`, `Service '${s.service}' check`, s.status ?? 'passing', id, s.service, tags)];
    const instance: ConsulInstance = {
      node,
      service: { ID: id, Service: s.service, Tags: tags, Address: s.serviceAddress ?? '', Meta: s.meta ?? {}, Port: s.port, Weights: s.weights ?? { Passing: 1, Warning: 1 }, EnableTagOverride: false, CreateIndex: 10, ModifyIndex: 10 },
      checks: [...(nodeChecks.get(s.node) ?? []), ...svcChecks],
    };
    const key = s.service.toLowerCase();
    const entry = services.get(key) ?? { name: s.service, instances: [] };
    entry.instances.push(instance);
    services.set(key, entry);
  }
  const sorted = new Map<string, ConsulService>();
  for (const [k, v] of services) {
    sorted.set(k, { name: v.name, instances: [...v.instances].sort((a, b) => a.node.Node.localeCompare(b.node.Node) || a.service.ID.localeCompare(b.service.ID)) });
  }
  return { nodes, services: sorted, nodeChecks };
}

export function pod(namespace: string, name: string, ip: string, opts: { meshed?: boolean; workload?: string; labels?: Record<string, string>; ready?: boolean } = {}): PodInfo {
  return {
    namespace,
    name,
    ips: [ip],
    labels: opts.labels ?? { app: opts.workload ?? name },
    meshed: opts.meshed ?? false,
    ready: opts.ready ?? true,
    workload: { namespace, kind: 'Deployment', name: opts.workload ?? name },
  };
}

export function kubeService(namespace: string, name: string, clusterIP: string | null, ports: Array<{ name?: string; port: number }>, consulName?: string): KubeServiceInfo {
  return { namespace, name, consulName: consulName ?? name, clusterIP, ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: 'TCP' })) };
}

export function slice(namespace: string, service: string, endpoints: Array<{ pod: string; ip: string; ready?: boolean }>): EndpointSliceInfo {
  return { namespace, name: `${service}-abc`, serviceName: service, endpoints: endpoints.map((e) => ({ addresses: [e.ip], ready: e.ready ?? true, podKey: `${namespace}/${e.pod}` })) };
}

export function sidecar(namespace: string, name: string, hosts: string[], opts: { selector?: Record<string, string> | null; managed?: boolean; created?: string } = {}): SidecarInfo {
  return {
    namespace,
    name,
    apiVersion: 'networking.istio.io/v1',
    labels: opts.managed ? { 'app.kubernetes.io/managed-by': 'discovery' } : {},
    annotations: {},
    creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z',
    selector: opts.selector === undefined ? { app: name } : opts.selector,
    egressHosts: hosts,
    managed: opts.managed ?? false,
  };
}

export function kube(parts: Partial<KubeSnapshot>): KubeSnapshot {
  return { namespaces: parts.namespaces ?? [], services: parts.services ?? [], endpointSlices: parts.endpointSlices ?? [], pods: parts.pods ?? [], sidecars: parts.sidecars ?? [] };
}

/**
 * The standard small test world:
 * - `reviews` (Consul: 2 HAProxy nodes 10.1.0.1-2:9080) migrated: Service bookinfo/reviews 10.96.0.10:9080, meshed endpoints.
 * - `ratings` only in Consul (10.1.1.1:9080).
 * - `details` has a Service but no ready endpoints.
 * - callers: 127.0.0.10 meshed (bookinfo/productpage), 127.0.0.20 not meshed (legacy/billing).
 */
export function standardWorld(): { consul: ConsulCatalog; kube: KubeSnapshot } {
  const consul = catalog([
    { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.0.1', port: 9080, tags: ['v1', 'primary'] },
    { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.0.2', port: 9080, tags: ['v1'] },
    { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9080 },
    { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
  ]);
  const k = kube({
    namespaces: ['bookinfo', 'legacy'],
    services: [kubeService('bookinfo', 'reviews', '10.96.0.10', [{ name: 'http', port: 9080 }]), kubeService('bookinfo', 'details', '10.96.0.11', [{ name: 'http', port: 9080 }])],
    endpointSlices: [slice('bookinfo', 'reviews', [{ pod: 'reviews-v1-abc', ip: '10.244.0.5' }]), slice('bookinfo', 'details', [{ pod: 'details-v1-abc', ip: '10.244.0.6', ready: false }])],
    pods: [
      pod('bookinfo', 'reviews-v1-abc', '10.244.0.5', { meshed: true, workload: 'reviews-v1' }),
      pod('bookinfo', 'details-v1-abc', '10.244.0.6', { meshed: true, workload: 'details-v1' }),
      pod('bookinfo', 'productpage-7d9f-xyz', '127.0.0.10', { meshed: true, workload: 'productpage' }),
      pod('legacy', 'billing-5c4b-qrs', '127.0.0.20', { meshed: false, workload: 'billing' }),
    ],
  });
  return { consul, kube: k };
}
