// Kubernetes snapshot files: objects as `kubectl get -o yaml` (or -o json) prints them — single
// objects, several YAML documents, `kind: List`, or typed lists such as PodList. The kinds
// Discovery needs are converted to the slim KubeSnapshot at this edge; other kinds are counted
// and ignored, so a whole `kubectl get all -A -o yaml` dump can be used as is.

import { LineCounter, parseAllDocuments } from 'yaml';
import { loadAll, CORE_SCHEMA } from 'js-yaml';
import type { EndpointInfo, EndpointSliceInfo, KubeServiceInfo, KubeSnapshot, PodInfo, ServicePortInfo, SidecarInfo, WorkloadRef } from '../../world/kube-types.ts';
import { DiscoveryError } from '../../platform/errors.ts';
import type { Obj } from '../shape.ts';
import { ShapeError, describe, fail, field, isObject, item, name, object, optArray, optInt, optObject, optStr, optStringList, optStringMap, str } from '../shape.ts';

export const CONSUL_NAME_ANNOTATION = 'consul.hashicorp.com/service-name';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_DISCOVERY = 'discovery';
const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';
const ISTIO_PROXY = 'istio-proxy';
const POD_TEMPLATE_HASH = 'pod-template-hash';
const CRONJOB_NAME_LABEL = 'batch.kubernetes.io/cronjob-name';

export interface KubeParseResult {
  readonly snapshot: KubeSnapshot;
  /** Objects of kinds Discovery does not use, by "apiVersion kind", for a debug log line. */
  readonly ignored: ReadonlyMap<string, number>;
}

/** Where an object came from, for error messages: "document 3 (line 41)" or "document 2 (line 1) item 7". */
interface Place {
  readonly where: string;
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

function readMeta(o: Obj, namespaced: boolean): Meta {
  const m = object(o['metadata'], 'metadata');
  const namespace = namespaced ? (optStr(m, 'namespace', 'metadata') || 'default') : '';
  return {
    namespace,
    name: name(m, 'name', 'metadata'),
    labels: optStringMap(m, 'labels', 'metadata') ?? {},
    annotations: optStringMap(m, 'annotations', 'metadata') ?? {},
    creationTimestamp: optStr(m, 'creationTimestamp', 'metadata') ?? '',
  };
}

/** Best-effort "Kind ns/name" for an error about an object whose metadata may itself be broken. */
function label(o: Obj): string {
  const kind = typeof o['kind'] === 'string' && o['kind'] !== '' ? o['kind'] : 'object';
  const m = isObject(o['metadata']) ? o['metadata'] : {};
  if (typeof m['name'] !== 'string') return kind;
  const ns = kind !== 'Namespace' ? `${typeof m['namespace'] === 'string' && m['namespace'] !== '' ? m['namespace'] : 'default'}/` : '';
  return `${kind} ${ns}${m['name']}`;
}

// ---------------------------------------------------------------------------------------------
// Kinds

function readService(o: Obj): KubeServiceInfo {
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

function readEndpointSlice(o: Obj): EndpointSliceInfo | null {
  const meta = readMeta(o, true);
  const serviceName = meta.labels[SERVICE_NAME_LABEL];
  // A slice without the label belongs to no Service (custom endpoints); nothing can look it up.
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
function readPod(o: Obj): PodInfo | null {
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

function readSidecar(o: Obj, apiVersion: string): SidecarInfo {
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

// ---------------------------------------------------------------------------------------------
// Dispatch

const KNOWN: ReadonlyMap<string, readonly string[]> = new Map([
  ['/Namespace', ['v1']],
  ['/Service', ['v1']],
  ['/Pod', ['v1']],
  // v1beta1 (removed in Kubernetes 1.25) has the same endpoints/conditions/targetRef fields.
  ['discovery.k8s.io/EndpointSlice', ['v1', 'v1beta1']],
  ['networking.istio.io/Sidecar', ['v1', 'v1beta1', 'v1alpha3']],
]);

class Collector {
  readonly namespaces = new Set<string>();
  readonly services = new Map<string, KubeServiceInfo>();
  readonly slices = new Map<string, EndpointSliceInfo>();
  readonly pods = new Map<string, PodInfo>();
  readonly sidecars = new Map<string, SidecarInfo>();
  readonly ignored = new Map<string, number>();
  /** "Kind ns/name" → where it was first seen, to name both places of a duplicate. */
  readonly seen = new Map<string, string>();

  add(o: Obj, place: Place): void {
    const apiVersion = o['apiVersion'];
    const kind = o['kind'];
    if (typeof kind !== 'string' || kind === '') fail('kind', typeof kind === 'string' ? 'must not be empty' : kind === undefined ? 'is required' : `must be a string, got ${describe(kind)}`);
    if (typeof apiVersion !== 'string' || apiVersion === '') fail('apiVersion', apiVersion === undefined ? `is required (kind ${kind})` : `must be a non-empty string, got ${describe(apiVersion)}`);
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = apiVersion.slice(slash + 1);
    const versions = KNOWN.get(`${group}/${kind}`);
    if (!versions) {
      const key = `${apiVersion} ${kind}`;
      this.ignored.set(key, (this.ignored.get(key) ?? 0) + 1);
      return;
    }
    if (!versions.includes(version)) fail('apiVersion', `${apiVersion} is not a supported version of ${kind} (supported: ${versions.map((v) => (group ? `${group}/${v}` : v)).join(', ')})`);
    switch (kind) {
      case 'Namespace': {
        const meta = readMeta(o, false);
        this.#unique('Namespace', meta.name, place);
        this.namespaces.add(meta.name);
        return;
      }
      case 'Service': {
        const s = readService(o);
        this.#store(this.services, 'Service', s, place);
        return;
      }
      case 'EndpointSlice': {
        const s = readEndpointSlice(o);
        if (s) this.#store(this.slices, 'EndpointSlice', s, place);
        else this.#count(`${apiVersion} ${kind} (no ${SERVICE_NAME_LABEL} label)`);
        return;
      }
      case 'Pod': {
        const p = readPod(o);
        if (p) this.#store(this.pods, 'Pod', p, place);
        else this.#count('v1 Pod (finished: Succeeded/Failed)');
        return;
      }
      case 'Sidecar': {
        const s = readSidecar(o, apiVersion);
        this.#store(this.sidecars, 'Sidecar', s, place);
        return;
      }
    }
  }

  #count(key: string): void {
    this.ignored.set(key, (this.ignored.get(key) ?? 0) + 1);
  }

  #unique(kind: string, key: string, place: Place): void {
    const id = `${kind} ${key}`;
    const first = this.seen.get(id);
    if (first !== undefined) throw new ShapeError(`duplicate ${id}: also defined at ${first}`);
    this.seen.set(id, place.where);
  }

  #store<T extends { namespace: string; name: string }>(into: Map<string, T>, kind: string, obj: T, place: Place): void {
    const key = `${obj.namespace}/${obj.name}`;
    this.#unique(kind, key, place);
    this.namespaces.add(obj.namespace);
    into.set(key, obj);
  }

  snapshot(): KubeSnapshot {
    const sorted = <T>(m: Map<string, T>): T[] => [...m.keys()].sort().map((k) => m.get(k)!);
    return {
      namespaces: [...this.namespaces].sort(),
      services: sorted(this.services),
      endpointSlices: sorted(this.slices),
      pods: sorted(this.pods),
      sidecars: sorted(this.sidecars),
    };
  }
}

function snapshotError(origin: string, message: string): DiscoveryError {
  return new DiscoveryError('DSC_ERR_SNAPSHOT', `${origin}: ${message}`);
}

/** One top-level value: an object, or a list whose items are objects (typed lists leave out apiVersion/kind). */
function addTopLevel(c: Collector, value: unknown, where: string): void {
  if (value === null || value === undefined) return;
  const run = (o: Obj, place: string) => {
    try {
      c.add(o, { where: place });
    } catch (err) {
      if (err instanceof ShapeError) throw new ShapeError(`${place}, ${label(o)}: ${err.message}`);
      throw err;
    }
  };
  if (!isObject(value)) throw new ShapeError(`${where}: must be a Kubernetes object (a mapping with apiVersion and kind), got ${describe(value)}`);
  const kind = value['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value['items'])) {
    const typed = kind !== 'List';
    const itemKind = kind.slice(0, -'List'.length);
    value['items'].forEach((it, i) => {
      const place = `${where} item ${i}`;
      if (!isObject(it)) throw new ShapeError(`${place}: must be a Kubernetes object, got ${describe(it)}`);
      const withType = typed ? { apiVersion: value['apiVersion'], kind: itemKind, ...it } : it;
      run(withType, place);
    });
    return;
  }
  run(value, where);
}

/** The `yaml` package path: slower, but every error names its document and line. */
function parseDocumentsPrecisely(c: Collector, text: string): void {
  const lines = new LineCounter();
  // An empty file is an empty stream: a valid, empty snapshot.
  parseAllDocuments(text, { lineCounter: lines }).forEach((doc, d) => {
    const where = () => `document ${d + 1} (line ${lines.linePos(doc.range[0]).line || 1})`;
    const problem = doc.errors[0];
    if (problem) throw new ShapeError(`${where()}: not valid YAML: ${problem.message.split('\n')[0]!.replace(/:$/, '')}`);
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      throw new ShapeError(`${where()}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
    addTopLevel(c, value, where());
  });
}

/** Parse Kubernetes objects and report which kinds were ignored. Throws DiscoveryError DSC_ERR_SNAPSHOT. */
export function parseKubeObjectsDetailed(text: string, origin: string): KubeParseResult {
  const c = new Collector();
  try {
    const trimmed = text.trimStart();
    // `kubectl get -o json` output is JSON; JSON.parse is many times faster than a YAML parser on large dumps.
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      let value: unknown;
      let parsed = true;
      try {
        value = JSON.parse(text);
      } catch {
        parsed = false; // YAML flow style also starts with "{": let the YAML parser judge it.
      }
      if (parsed) {
        if (Array.isArray(value)) value.forEach((v, i) => addTopLevel(c, v, `item ${i}`));
        else addTopLevel(c, value, 'document 1');
        return { snapshot: c.snapshot(), ignored: c.ignored };
      }
    }
    // Large dumps: js-yaml's loader is ~10x faster than the `yaml` package's document model
    // (bench/scale.ts: 20,000 Pods, 12 s -> ~1.5 s). It is the fast path only: on any problem the
    // file is parsed again with `yaml`, whose positions give the document and line in the message.
    try {
      const fast = new Collector();
      loadAll(text, (value) => addTopLevel(fast, value, 'document'), { schema: CORE_SCHEMA });
      return { snapshot: fast.snapshot(), ignored: fast.ignored };
    } catch {
      // fall through to the precise parser for the error message
    }
    parseDocumentsPrecisely(c, text);
  } catch (err) {
    if (err instanceof ShapeError) throw snapshotError(origin, err.message);
    throw err;
  }
  return { snapshot: c.snapshot(), ignored: c.ignored };
}

/** Parse `kubectl get -o yaml`/`-o json` output into the KubeSnapshot. Throws DiscoveryError DSC_ERR_SNAPSHOT. */
export function parseKubeObjects(text: string, origin: string): KubeSnapshot {
  return parseKubeObjectsDetailed(text, origin).snapshot;
}
