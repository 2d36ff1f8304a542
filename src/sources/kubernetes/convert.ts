// One Kubernetes object in, one slim world value out (src/world/kube-types.ts). The snapshot
// file reader and a live source share these converters, so they accept both shapes
// @kubernetes/client-node delivers: the plain JSON of a WATCH event, and the model objects of a
// LIST, whose timestamps are JS Dates and whose missing fields may be present as `undefined`.
// Both read as absent here. A problem throws ShapeError naming the field path
// ("spec.ports[1].port"); the caller adds which object and where it came from.

import type { EndpointInfo, EndpointSliceInfo, KubeServiceInfo, PodInfo, ServicePortInfo, SidecarInfo, WorkloadRef } from '../../world/kube-types.ts';
import { MANAGED_BY_DISCOVERY, MANAGED_BY_LABEL } from '../../world/kube-types.ts';
import type { Obj } from '../shape.ts';
import { describe, fail, field, isObject, item, name, object, optArray, optInt, optObject, optStr, optStringList, optStringMap, str } from '../shape.ts';

export const CONSUL_NAME_ANNOTATION = 'consul.hashicorp.com/service-name';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';
const ISTIO_PROXY = 'istio-proxy';
const POD_TEMPLATE_HASH = 'pod-template-hash';
const CRONJOB_NAME_LABEL = 'batch.kubernetes.io/cronjob-name';

// ---------------------------------------------------------------------------------------------
// Supported kinds

/** The kinds Discovery reads, as "group/Kind" (core group: ""), with the versions it understands. */
export const SUPPORTED_KINDS: ReadonlyMap<string, readonly string[]> = new Map([
  ['/Namespace', ['v1']],
  ['/Service', ['v1']],
  ['/Pod', ['v1']],
  // v1beta1 (removed in Kubernetes 1.25) has the same endpoints/conditions/targetRef fields.
  ['discovery.k8s.io/EndpointSlice', ['v1', 'v1beta1']],
  ['networking.istio.io/Sidecar', ['v1', 'v1beta1', 'v1alpha3']],
]);

/**
 * Whether Discovery reads objects of this apiVersion and kind: false for a kind it has no use
 * for; a ShapeError for a kind it reads in a version it does not understand.
 */
export function isSupportedKind(apiVersion: string, kind: string): boolean {
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const versions = SUPPORTED_KINDS.get(`${group}/${kind}`);
  if (!versions) return false;
  if (!versions.includes(version)) fail('apiVersion', `${apiVersion} is not a supported version of ${kind} (supported: ${versions.map((v) => (group ? `${group}/${v}` : v)).join(', ')})`);
  return true;
}

/** Best-effort "Kind ns/name" for an error about an object whose metadata may itself be broken. */
export function objectLabel(obj: object): string {
  const o: Obj = isObject(obj) ? obj : {};
  const kind = typeof o['kind'] === 'string' && o['kind'] !== '' ? o['kind'] : 'object';
  const m = isObject(o['metadata']) ? o['metadata'] : {};
  if (typeof m['name'] !== 'string') return kind;
  const ns = kind !== 'Namespace' ? `${typeof m['namespace'] === 'string' && m['namespace'] !== '' ? m['namespace'] : 'default'}/` : '';
  return `${kind} ${ns}${m['name']}`;
}

// ---------------------------------------------------------------------------------------------
// Metadata

interface Meta {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly creationTimestamp: string;
}

function root(obj: object): Obj {
  if (!isObject(obj)) fail('object', `must be a Kubernetes object, got ${describe(obj)}`);
  return obj;
}

/**
 * A timestamp as Kubernetes prints it ("2024-05-01T10:00:00Z"). client-node's models carry a
 * Date; Kubernetes times have whole seconds, so the milliseconds toISOString adds are dropped.
 */
function optTime(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) fail(field(path, key), 'must be a valid time, got an invalid Date');
    return v.toISOString().replace(/\.\d+Z$/, 'Z');
  }
  return optStr(o, key, path);
}

function readMeta(o: Obj, namespaced: boolean): Meta {
  const m = object(o['metadata'], 'metadata');
  const namespace = namespaced ? optStr(m, 'namespace', 'metadata') || 'default' : '';
  return {
    namespace,
    name: name(m, 'name', 'metadata'),
    labels: optStringMap(m, 'labels', 'metadata') ?? {},
    annotations: optStringMap(m, 'annotations', 'metadata') ?? {},
    creationTimestamp: optTime(m, 'creationTimestamp', 'metadata') ?? '',
  };
}

// ---------------------------------------------------------------------------------------------
// Kinds

/** The name of a Namespace object. */
export function namespaceName(obj: object): string {
  return readMeta(root(obj), false).name;
}

export function convertService(obj: object): KubeServiceInfo {
  const o = root(obj);
  const meta = readMeta(o, true);
  const spec = optObject(o, 'spec', '') ?? {};
  const type = optStr(spec, 'type', 'spec') ?? 'ClusterIP';
  let clusterIP = optStr(spec, 'clusterIP', 'spec') ?? optStringList(spec, 'clusterIPs', 'spec')?.[0] ?? null;
  // Headless ("None") and ExternalName Services have no virtual IP a caller could be given.
  if (clusterIP === '' || clusterIP === 'None' || type === 'ExternalName') clusterIP = null;
  const ports: ServicePortInfo[] = (optArray(spec, 'ports', 'spec') ?? []).map((p, i) => {
    const path = item('spec.ports', i);
    const po = object(p, path);
    const port = optInt(po, 'port', path, 1, 65535);
    if (port === undefined) fail(field(path, 'port'), 'is required');
    return { name: optStr(po, 'name', path) ?? '', port, protocol: optStr(po, 'protocol', path) ?? 'TCP' };
  });
  const annotated = meta.annotations[CONSUL_NAME_ANNOTATION];
  if (annotated !== undefined && annotated.trim() === '') fail(field('metadata.annotations', CONSUL_NAME_ANNOTATION), 'must not be empty');
  return { namespace: meta.namespace, name: meta.name, consulName: annotated?.trim() ?? meta.name, clusterIP, ports };
}

/** null: a slice without the kubernetes.io/service-name label, which belongs to no Service. */
export function convertEndpointSlice(obj: object): EndpointSliceInfo | null {
  const o = root(obj);
  const meta = readMeta(o, true);
  const serviceName = meta.labels[SERVICE_NAME_LABEL];
  // Custom endpoints without the label: nothing can look them up.
  if (serviceName === undefined || serviceName === '') return null;
  const endpoints: EndpointInfo[] = (optArray(o, 'endpoints', '') ?? []).map((e, i) => {
    const path = item('endpoints', i);
    const eo = object(e, path);
    const addresses = optStringList(eo, 'addresses', path);
    if (!addresses) fail(field(path, 'addresses'), 'is required');
    const conditions = optObject(eo, 'conditions', path);
    const readyValue = conditions?.['ready'];
    if (readyValue !== undefined && readyValue !== null && typeof readyValue !== 'boolean') fail(`${path}.conditions.ready`, `must be true or false, got ${describe(readyValue)}`);
    let podKey: string | null = null;
    const ref = optObject(eo, 'targetRef', path);
    if (ref && ref['kind'] === 'Pod') {
      const refPath = field(path, 'targetRef');
      podKey = `${optStr(ref, 'namespace', refPath) || meta.namespace}/${name(ref, 'name', refPath)}`;
    }
    // Kubernetes: a nil ready condition means ready (unknown state is treated as serving).
    return { addresses, ready: readyValue !== false, podKey };
  });
  return { namespace: meta.namespace, name: meta.name, serviceName, endpoints };
}

function hasIstioProxy(spec: Obj): boolean {
  for (const c of optArray(spec, 'containers', 'spec') ?? []) {
    if (isObject(c) && c['name'] === ISTIO_PROXY) return true;
  }
  // Native sidecars (Kubernetes 1.28+): Istio injects istio-proxy as an init container that keeps running.
  for (const c of optArray(spec, 'initContainers', 'spec') ?? []) {
    if (isObject(c) && c['name'] === ISTIO_PROXY && c['restartPolicy'] === 'Always') return true;
  }
  return false;
}

function podWorkload(o: Obj, meta: Meta): WorkloadRef {
  const owners = optArray(object(o['metadata'], 'metadata'), 'ownerReferences', 'metadata') ?? [];
  const self: WorkloadRef = { namespace: meta.namespace, kind: 'Pod', name: meta.name };
  let controller: Obj | undefined;
  owners.forEach((r, i) => {
    const ro = object(r, item('metadata.ownerReferences', i));
    if (ro['controller'] === true) controller = ro;
  });
  if (!controller) return self;
  const path = 'metadata.ownerReferences';
  const kind = str(controller, 'kind', path);
  const ownerName = name(controller, 'name', path);
  const at = (k: string, n: string): WorkloadRef => ({ namespace: meta.namespace, kind: k, name: n });
  switch (kind) {
    case 'ReplicaSet': {
      // Deployment "reviews-v1" owns ReplicaSet "reviews-v1-<pod-template-hash>".
      const hash = meta.labels[POD_TEMPLATE_HASH];
      if (hash && ownerName.endsWith(`-${hash}`) && ownerName.length > hash.length + 1) return at('Deployment', ownerName.slice(0, -(hash.length + 1)));
      return at('ReplicaSet', ownerName);
    }
    case 'Job': {
      // CronJob "report" owns Jobs "report-<scheduled minutes since epoch>".
      const cron = meta.labels[CRONJOB_NAME_LABEL];
      if (cron) return at('CronJob', cron);
      const m = /^(.+)-\d{8,}$/.exec(ownerName);
      return m ? at('CronJob', m[1]!) : at('Job', ownerName);
    }
    case 'Node':
      // Static (mirror) Pods are owned by their Node; each is its own workload.
      return self;
    default:
      return at(kind, ownerName);
  }
}

/** null: a finished Pod (Succeeded/Failed), whose IP Kubernetes may already have given to another Pod. */
export function convertPod(obj: object): PodInfo | null {
  const o = root(obj);
  const meta = readMeta(o, true);
  const spec = optObject(o, 'spec', '') ?? {};
  const status = optObject(o, 'status', '') ?? {};
  const phase = optStr(status, 'phase', 'status');
  if (phase === 'Succeeded' || phase === 'Failed') return null;
  let ips = (optArray(status, 'podIPs', 'status') ?? []).map((p, i) => str(object(p, item('status.podIPs', i)), 'ip', item('status.podIPs', i)));
  if (ips.length === 0) {
    const ip = optStr(status, 'podIP', 'status');
    ips = ip ? [ip] : [];
  }
  let ready = false;
  (optArray(status, 'conditions', 'status') ?? []).forEach((c, i) => {
    const path = item('status.conditions', i);
    const co = object(c, path);
    if (str(co, 'type', path) === 'Ready') ready = str(co, 'status', path) === 'True';
  });
  const meshed = hasIstioProxy(spec) || meta.annotations[SIDECAR_STATUS_ANNOTATION] !== undefined;
  return { namespace: meta.namespace, name: meta.name, ips, labels: meta.labels, meshed, ready, workload: podWorkload(o, meta) };
}

/** apiVersion: the version the object was served in (Istio serves three), recorded on the result. */
export function convertSidecar(obj: object, apiVersion: string): SidecarInfo {
  const o = root(obj);
  const meta = readMeta(o, true);
  const spec = optObject(o, 'spec', '') ?? {};
  const ws = optObject(spec, 'workloadSelector', 'spec');
  const selector = ws ? (optStringMap(ws, 'labels', 'spec.workloadSelector') ?? {}) : null;
  const hosts = new Set<string>();
  (optArray(spec, 'egress', 'spec') ?? []).forEach((e, i) => {
    const path = item('spec.egress', i);
    for (const h of optStringList(object(e, path), 'hosts', path) ?? []) hosts.add(h);
  });
  return {
    namespace: meta.namespace,
    name: meta.name,
    apiVersion,
    labels: meta.labels,
    annotations: meta.annotations,
    creationTimestamp: meta.creationTimestamp,
    selector,
    egressHosts: [...hosts],
    managed: meta.labels[MANAGED_BY_LABEL] === MANAGED_BY_DISCOVERY,
  };
}
