// The resource types the Kubernetes API double serves, with the per-type rules of the real API
// server that clients can observe (scope, discovery names, update and delete behaviour).

export interface ResourceType {
  /** API group; '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** 'v1' for the core group, else 'group/version'. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly listKind: string;
  /** Lower-case plural, as in URLs (`pods`). */
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  /** A custom resource: list items keep kind/apiVersion, metadata.generation is tracked. */
  readonly custom: boolean;
  /** A PUT without metadata.resourceVersion is accepted (false for custom resources and Leases). */
  readonly unconditionalUpdate: boolean;
  /** `.status` is written only through the status subresource; create and update keep it out. */
  readonly statusSubresource: boolean;
  /** The status a create through the API starts with (types with a status subresource; absent: no status). */
  readonly initialStatus?: () => Record<string, unknown>;
  /** DELETE answers with the deleted object (true) or with a Success Status naming it (false). */
  readonly deleteReturnsObject: boolean;
  /** Field-selector labels besides metadata.name and metadata.namespace. */
  readonly fieldLabels: readonly string[];
}

const ALL_VERBS = ['create', 'delete', 'get', 'list', 'update', 'watch'] as const;

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    group: '', version: 'v1', apiVersion: 'v1', kind: 'Namespace', listKind: 'NamespaceList', plural: 'namespaces', singular: 'namespace',
    namespaced: false, shortNames: ['ns'], categories: [], custom: false, unconditionalUpdate: true, statusSubresource: true,
    initialStatus: () => ({ phase: 'Active' }), deleteReturnsObject: false, fieldLabels: ['status.phase'],
  },
  {
    group: '', version: 'v1', apiVersion: 'v1', kind: 'Pod', listKind: 'PodList', plural: 'pods', singular: 'pod',
    namespaced: true, shortNames: ['po'], categories: ['all'], custom: false, unconditionalUpdate: true, statusSubresource: true,
    initialStatus: () => ({ phase: 'Pending' }), deleteReturnsObject: true,
    fieldLabels: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  },
  {
    group: '', version: 'v1', apiVersion: 'v1', kind: 'Service', listKind: 'ServiceList', plural: 'services', singular: 'service',
    namespaced: true, shortNames: ['svc'], categories: ['all'], custom: false, unconditionalUpdate: true, statusSubresource: true,
    initialStatus: () => ({ loadBalancer: {} }), deleteReturnsObject: true, fieldLabels: ['spec.clusterIP', 'spec.type'],
  },
  {
    group: 'discovery.k8s.io', version: 'v1', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', listKind: 'EndpointSliceList',
    plural: 'endpointslices', singular: 'endpointslice', namespaced: true, shortNames: [], categories: [], custom: false,
    unconditionalUpdate: true, statusSubresource: false, deleteReturnsObject: false, fieldLabels: [],
  },
  {
    group: 'networking.istio.io', version: 'v1', apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', listKind: 'SidecarList',
    plural: 'sidecars', singular: 'sidecar', namespaced: true, shortNames: [], categories: ['istio-io', 'networking-istio-io'], custom: true,
    unconditionalUpdate: false, statusSubresource: true, deleteReturnsObject: true, fieldLabels: [],
  },
  {
    group: 'networking.istio.io', version: 'v1', apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', listKind: 'ServiceEntryList',
    plural: 'serviceentries', singular: 'serviceentry', namespaced: true, shortNames: ['se'], categories: ['istio-io', 'networking-istio-io'], custom: true,
    unconditionalUpdate: false, statusSubresource: true, deleteReturnsObject: true, fieldLabels: [],
  },
  {
    group: '', version: 'v1', apiVersion: 'v1', kind: 'ConfigMap', listKind: 'ConfigMapList', plural: 'configmaps', singular: 'configmap',
    namespaced: true, shortNames: ['cm'], categories: [], custom: false, unconditionalUpdate: true, statusSubresource: false,
    deleteReturnsObject: false, fieldLabels: [],
  },
  {
    group: 'coordination.k8s.io', version: 'v1', apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', listKind: 'LeaseList',
    plural: 'leases', singular: 'lease', namespaced: true, shortNames: [], categories: [], custom: false, unconditionalUpdate: false,
    statusSubresource: false, deleteReturnsObject: false, fieldLabels: [],
  },
];

/** The verbs every type here supports (PATCH and deletecollection are not served). */
export const VERBS: readonly string[] = ALL_VERBS;

/** `plural.group` (or `plural` for the core group), as apiserver messages name a resource. */
export function qualifiedResource(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

/** `Kind.group` (or `Kind` for the core group), as validation messages name a kind. */
export function qualifiedKind(type: ResourceType): string {
  return type.group === '' ? type.kind : `${type.kind}.${type.group}`;
}

export function typeByPath(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
}

export function typeByKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.apiVersion === apiVersion && t.kind === kind);
}

/** The group/versions served, in discovery order (core first). */
export function groupVersions(): Array<{ group: string; version: string; types: ResourceType[] }> {
  const out: Array<{ group: string; version: string; types: ResourceType[] }> = [];
  for (const t of RESOURCE_TYPES) {
    let gv = out.find((g) => g.group === t.group && g.version === t.version);
    if (!gv) {
      gv = { group: t.group, version: t.version, types: [] };
      out.push(gv);
    }
    gv.types.push(t);
  }
  return out;
}
