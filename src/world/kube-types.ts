// The slim Kubernetes view Discovery keeps. Converted from API objects at the source edge
// (as CoreDNS's object/ package does), so nothing downstream depends on client shapes.

export interface WorkloadRef {
  readonly namespace: string;
  /** Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet or Pod. */
  readonly kind: string;
  readonly name: string;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly ips: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Carries the Istio sidecar (istio-proxy container, or sidecar.istio.io/status annotation). */
  readonly meshed: boolean;
  readonly ready: boolean;
  readonly workload: WorkloadRef;
}

export interface ServicePortInfo {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
}

export interface KubeServiceInfo {
  readonly namespace: string;
  readonly name: string;
  /** The Consul service this Service stands for (annotation consul.hashicorp.com/service-name, else its name). */
  readonly consulName: string;
  readonly clusterIP: string | null;
  readonly ports: readonly ServicePortInfo[];
}

export interface EndpointInfo {
  readonly addresses: readonly string[];
  readonly ready: boolean;
  /** namespace/name of the Pod behind the endpoint, when the slice names one. */
  readonly podKey: string | null;
}

export interface EndpointSliceInfo {
  readonly namespace: string;
  readonly name: string;
  readonly serviceName: string;
  readonly endpoints: readonly EndpointInfo[];
}

export interface SidecarInfo {
  readonly namespace: string;
  readonly name: string;
  readonly apiVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly creationTimestamp: string;
  /** null: no workloadSelector (namespace-wide Sidecar). */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly egressHosts: readonly string[];
  /** Created by Discovery (label app.kubernetes.io/managed-by=discovery). */
  readonly managed: boolean;
}

export interface KubeSnapshot {
  readonly namespaces: readonly string[];
  readonly services: readonly KubeServiceInfo[];
  readonly endpointSlices: readonly EndpointSliceInfo[];
  readonly pods: readonly PodInfo[];
  readonly sidecars: readonly SidecarInfo[];
}

export const EMPTY_KUBE: KubeSnapshot = { namespaces: [], services: [], endpointSlices: [], pods: [], sidecars: [] };

export function workloadKey(w: WorkloadRef): string {
  return `${w.namespace}/${w.name}`;
}

/** The label that marks a Sidecar as Discovery's own (invariant 4: any other Sidecar is the user's). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_DISCOVERY = 'discovery';
