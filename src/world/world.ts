// The world model: Consul's catalog and the Kubernetes view joined into the facts the
// decision needs. Built from the latest snapshot of every source (parts whose input did not
// change are reused, see WorldBuilder), then swapped in atomically by the store; nobody mutates
// a World.

import type { MeshRule } from '../config/config.ts';
import type { ConsulCatalog, ConsulService } from './consul-types.ts';
import type { EndpointSliceInfo, KubeServiceInfo, KubeSnapshot, PodInfo, SidecarInfo } from './kube-types.ts';
import { workloadKey } from './kube-types.ts';
import { serviceFqdn } from './istio-hosts.ts';
import { selects } from './labels.ts';

export type MeshStatus =
  | 'meshed'
  | 'not-in-kubernetes'
  | 'no-cluster-ip'
  | 'no-ready-endpoints'
  | 'endpoints-not-meshed'
  | 'mapping-ambiguous'
  | 'port-ambiguous';

/** What Kubernetes says about one Consul service. */
export interface MeshTarget {
  readonly status: MeshStatus;
  /** Human-readable reason for a non-meshed status (shown by explain and logs). */
  readonly detail: string;
  /** The Kubernetes Service(s) claiming this Consul name. */
  readonly kubeServices: readonly string[];
  readonly namespace?: string;
  readonly serviceName?: string;
  readonly clusterIP?: string;
  readonly port?: number;
  readonly portName?: string;
  /** `<svc>.<ns>.svc.cluster.local` */
  readonly fqdn?: string;
  readonly readyEndpoints: number;
  readonly meshedReadyEndpoints: number;
}

/** The Sidecar Istio applies to a Pod, and who owns it. */
export type AppliedSidecar =
  | { readonly kind: 'none' }
  | { readonly kind: 'managed' | 'user'; readonly info: SidecarInfo };

/** A calling Pod as identified by its IP. */
export interface Caller {
  readonly ip: string;
  readonly pod: PodInfo;
  /** `namespace/name` of the owning workload. */
  readonly workload: string;
  /** The Sidecar Istio applies to this Pod. */
  readonly sidecar: AppliedSidecar;
}

export interface WorldProblem {
  readonly kind: 'mapping-ambiguous' | 'port-ambiguous' | 'caller-ip-shared';
  readonly subject: string;
  readonly detail: string;
}


export interface WorldOptions {
  readonly meshRule: MeshRule;
  readonly clusterDomain: string;
  /** Istio root namespace: a selector-less Sidecar there is the mesh-wide default. */
  readonly rootNamespace: string;
}

export interface World {
  readonly consul: ConsulCatalog;
  readonly kube: KubeSnapshot;
  /** By lower-cased Consul service name; only names that Consul knows. */
  readonly targets: ReadonlyMap<string, MeshTarget>;
  readonly callers: ReadonlyMap<string, Caller>;
  /** Pods by workload key, for fan-out of caller changes. */
  readonly podsByWorkload: ReadonlyMap<string, readonly PodInfo[]>;
  readonly problems: readonly WorldProblem[];
}

function consulPortOf(svc: ConsulService): number | null {
  const counts = new Map<number, number>();
  for (const i of svc.instances) counts.set(i.service.Port, (counts.get(i.service.Port) ?? 0) + 1);
  let best: number | null = null;
  let bestCount = 0;
  for (const [port, n] of counts) if (n > bestCount || (n === bestCount && best !== null && port < best)) [best, bestCount] = [port, n];
  return best;
}

/** Istio's choice: the oldest selecting Sidecar in the Pod's namespace, else that namespace's selector-less one, else the root namespace's. */
export function selectSidecar(pod: PodInfo, sidecars: readonly SidecarInfo[], rootNamespace: string): AppliedSidecar {
  const byAge = (a: SidecarInfo, b: SidecarInfo) =>
    a.creationTimestamp.localeCompare(b.creationTimestamp) || a.name.localeCompare(b.name);
  const local = sidecars.filter((s) => s.namespace === pod.namespace).sort(byAge);
  const chosen =
    local.find((s) => s.selector !== null && Object.keys(s.selector).length > 0 && selects(s.selector, pod.labels)) ??
    local.find((s) => s.selector === null || Object.keys(s.selector).length === 0) ??
    sidecars.filter((s) => s.namespace === rootNamespace && (s.selector === null || Object.keys(s.selector).length === 0)).sort(byAge)[0];
  if (!chosen) return { kind: 'none' };
  return { kind: chosen.managed ? 'managed' : 'user', info: chosen };
}

function choosePort(svc: KubeServiceInfo, consulName: string, consulPort: number | null): { port: number; name: string } | null {
  if (consulPort !== null) {
    const byNumber = svc.ports.find((p) => p.port === consulPort);
    if (byNumber) return { port: byNumber.port, name: byNumber.name };
  }
  const byName = svc.ports.find((p) => p.name !== '' && p.name.toLowerCase() === consulName.toLowerCase());
  if (byName) return { port: byName.port, name: byName.name };
  const only = svc.ports.length === 1 ? svc.ports[0] : undefined;
  return only ? { port: only.port, name: only.name } : null;
}

/** Kubernetes lookups the targets are built from; each depends on one kind's array only. */
interface KubeIndexes {
  /** Kubernetes Services by the lower-cased Consul name they claim. */
  readonly claims: ReadonlyMap<string, readonly KubeServiceInfo[]>;
  readonly podsByKey: ReadonlyMap<string, PodInfo>;
  readonly slicesByService: ReadonlyMap<string, readonly EndpointSliceInfo[]>;
}

function indexClaims(services: readonly KubeServiceInfo[]): Map<string, KubeServiceInfo[]> {
  const claims = new Map<string, KubeServiceInfo[]>();
  for (const s of services) {
    const key = s.consulName.toLowerCase();
    const list = claims.get(key);
    if (list) list.push(s);
    else claims.set(key, [s]);
  }
  return claims;
}

function indexPods(pods: readonly PodInfo[]): Map<string, PodInfo> {
  const podsByKey = new Map<string, PodInfo>();
  for (const p of pods) podsByKey.set(`${p.namespace}/${p.name}`, p);
  return podsByKey;
}

function indexSlices(slices: readonly EndpointSliceInfo[]): Map<string, EndpointSliceInfo[]> {
  const slicesByService = new Map<string, EndpointSliceInfo[]>();
  for (const sl of slices) {
    const key = `${sl.namespace}/${sl.serviceName}`;
    const list = slicesByService.get(key);
    if (list) list.push(sl);
    else slicesByService.set(key, [sl]);
  }
  return slicesByService;
}

function indexPodsByWorkload(pods: readonly PodInfo[]): Map<string, PodInfo[]> {
  const podsByWorkload = new Map<string, PodInfo[]>();
  for (const p of pods) {
    const key = workloadKey(p.workload);
    const list = podsByWorkload.get(key);
    if (list) list.push(p);
    else podsByWorkload.set(key, [p]);
  }
  return podsByWorkload;
}

interface BuiltTarget {
  readonly target: MeshTarget;
  readonly problem: WorldProblem | null;
}

/** What Kubernetes says about the Consul service `svc` (lower-cased `key`). */
function buildTarget(key: string, svc: ConsulService, kube: KubeIndexes, opts: WorldOptions): BuiltTarget {
  const { claims, podsByKey, slicesByService } = kube;
  const candidates = claims.get(key) ?? [];
  const names = candidates.map((c) => `${c.namespace}/${c.name}`).sort();
  const base = { kubeServices: names, readyEndpoints: 0, meshedReadyEndpoints: 0 };
  if (candidates.length === 0) {
    return { target: { ...base, status: 'not-in-kubernetes', detail: 'no Kubernetes Service maps to this Consul service' }, problem: null };
  }
  if (candidates.length > 1) {
    const detail = `Kubernetes Services ${names.join(', ')} all claim Consul service "${svc.name}"`;
    return { target: { ...base, status: 'mapping-ambiguous', detail }, problem: { kind: 'mapping-ambiguous', subject: svc.name, detail } };
  }
  const k = candidates[0]!;
  const where = { namespace: k.namespace, serviceName: k.name, fqdn: serviceFqdn(k.namespace, k.name, opts.clusterDomain) };
  if (!k.clusterIP || k.clusterIP === 'None') {
    return { target: { ...base, ...where, status: 'no-cluster-ip', detail: `Service ${k.namespace}/${k.name} has no ClusterIP` }, problem: null };
  }
  let ready = 0;
  let meshedReady = 0;
  for (const sl of slicesByService.get(`${k.namespace}/${k.name}`) ?? []) {
    for (const ep of sl.endpoints) {
      if (!ep.ready) continue;
      ready++;
      const pod = ep.podKey ? podsByKey.get(ep.podKey) : undefined;
      if (pod?.meshed) meshedReady++;
    }
  }
  const counts = { readyEndpoints: ready, meshedReadyEndpoints: meshedReady };
  const withIp = { ...base, ...where, ...counts, clusterIP: k.clusterIP };
  if (ready === 0) {
    return { target: { ...withIp, status: 'no-ready-endpoints', detail: `Service ${k.namespace}/${k.name} has no ready endpoints` }, problem: null };
  }
  const meshed = opts.meshRule === 'all' ? meshedReady === ready : meshedReady > 0;
  if (!meshed) {
    const detail = `${meshedReady} of ${ready} ready endpoints of ${k.namespace}/${k.name} carry the Istio sidecar (rule: ${opts.meshRule})`;
    return { target: { ...withIp, status: 'endpoints-not-meshed', detail }, problem: null };
  }
  const port = choosePort(k, svc.name, consulPortOf(svc));
  if (!port) {
    const detail = `Service ${k.namespace}/${k.name} has ports ${k.ports.map((p) => `${p.name || '-'}:${p.port}`).join(', ')}; none matches Consul port ${consulPortOf(svc) ?? '-'} or name "${svc.name}"`;
    return { target: { ...withIp, status: 'port-ambiguous', detail }, problem: { kind: 'port-ambiguous', subject: svc.name, detail } };
  }
  return { target: { ...withIp, status: 'meshed', detail: 'meshed', port: port.port, portName: port.name }, problem: null };
}

function buildCallers(pods: readonly PodInfo[], sidecars: readonly SidecarInfo[], opts: WorldOptions, problems: WorldProblem[]): Map<string, Caller> {
  const byIp = new Map<string, PodInfo[]>();
  for (const pod of pods) {
    for (const ip of pod.ips) {
      const list = byIp.get(ip);
      if (list) list.push(pod);
      else byIp.set(ip, [pod]);
    }
  }
  const callers = new Map<string, Caller>();
  for (const [ip, pods] of byIp) {
    if (pods.length > 1) {
      // hostNetwork Pods share their node's IP: the source address cannot tell them apart.
      problems.push({ kind: 'caller-ip-shared', subject: ip, detail: `IP ${ip} is used by ${pods.length} Pods; callers from it are unknown` });
      continue;
    }
    const pod = pods[0]!;
    callers.set(ip, { ip, pod, workload: workloadKey(pod.workload), sidecar: selectSidecar(pod, sidecars, opts.rootNamespace) });
  }
  return callers;
}

/** Remembers one derived value and the input it came from: the same input (by identity) gives it back. */
class Memo<I, O> {
  #input: I | undefined;
  #output: O | undefined;
  readonly #derive: (input: I) => O;

  constructor(derive: (input: I) => O) {
    this.#derive = derive;
  }

  get(input: I): O {
    if (this.#output === undefined || this.#input !== input) {
      this.#output = this.#derive(input);
      this.#input = input;
    }
    return this.#output;
  }
}

interface CallerPart {
  readonly callers: ReadonlyMap<string, Caller>;
  readonly problems: readonly WorldProblem[];
}

/**
 * Builds one World after another. The live Kubernetes source hands over the same array for a kind
 * that did not change, and the Consul catalog keeps the objects of unchanged services, so each
 * part derived from one kind (callers from Pods and Sidecars, the lookups by Pod, slice and
 * claimed name) is reused while its input is the same object: a Consul change does not walk
 * 20,000 Pods again. Every part is a pure function of its input, so the World is the one a fresh
 * build would give.
 */
export class WorldBuilder {
  readonly #opts: WorldOptions;
  readonly #claims = new Memo(indexClaims);
  readonly #podsByKey = new Memo(indexPods);
  readonly #slices = new Memo(indexSlices);
  readonly #podsByWorkload = new Memo(indexPodsByWorkload);
  #callerInputs: { pods: readonly PodInfo[]; sidecars: readonly SidecarInfo[] } | null = null;
  #callerPart: CallerPart | null = null;
  /** Each service's target and the service object it was built from, valid for `#targetsFor` only. */
  #targets = new Map<string, { readonly svc: ConsulService; readonly built: BuiltTarget }>();
  #targetsFor: KubeIndexes | null = null;

  constructor(opts: WorldOptions) {
    this.#opts = opts;
  }

  build(consul: ConsulCatalog, kube: KubeSnapshot): World {
    const problems: WorldProblem[] = [];
    const targets = this.#buildTargets(consul, kube, problems);
    const callerPart = this.#callers(kube.pods, kube.sidecars);
    problems.push(...callerPart.problems);
    return { consul, kube, targets, callers: callerPart.callers, podsByWorkload: this.#podsByWorkload.get(kube.pods), problems };
  }

  /** A service keeps its target object while its ConsulService and every Kubernetes lookup are the same objects. */
  #buildTargets(consul: ConsulCatalog, kube: KubeSnapshot, problems: WorldProblem[]): Map<string, MeshTarget> {
    const indexes: KubeIndexes = { claims: this.#claims.get(kube.services), podsByKey: this.#podsByKey.get(kube.pods), slicesByService: this.#slices.get(kube.endpointSlices) };
    const last = this.#targetsFor;
    const reusable = last !== null && last.claims === indexes.claims && last.podsByKey === indexes.podsByKey && last.slicesByService === indexes.slicesByService;
    const previous = reusable ? this.#targets : new Map<string, { readonly svc: ConsulService; readonly built: BuiltTarget }>();
    const next = new Map<string, { readonly svc: ConsulService; readonly built: BuiltTarget }>();
    const targets = new Map<string, MeshTarget>();
    for (const [key, svc] of consul.services) {
      const cached = previous.get(key);
      const built = cached && cached.svc === svc ? cached.built : buildTarget(key, svc, indexes, this.#opts);
      next.set(key, { svc, built });
      targets.set(key, built.target);
      if (built.problem) problems.push(built.problem);
    }
    this.#targets = next;
    this.#targetsFor = indexes;
    return targets;
  }

  #callers(pods: readonly PodInfo[], sidecars: readonly SidecarInfo[]): CallerPart {
    const last = this.#callerInputs;
    if (this.#callerPart && last && last.pods === pods && last.sidecars === sidecars) return this.#callerPart;
    const problems: WorldProblem[] = [];
    const callers = buildCallers(pods, sidecars, this.#opts, problems);
    this.#callerInputs = { pods, sidecars };
    this.#callerPart = { callers, problems };
    return this.#callerPart;
  }
}

export function buildWorld(consul: ConsulCatalog, kube: KubeSnapshot, opts: WorldOptions): World {
  return new WorldBuilder(opts).build(consul, kube);
}
