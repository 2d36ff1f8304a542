// Preflight against the Kubernetes API: every verb live mode uses, asked with a
// SelfSubjectAccessReview (what the API server's authorizer would decide for these credentials,
// without doing the request), and the Sidecar kind served at networking.istio.io/v1 (API discovery).

import { AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { DiscoveryConfig } from '../config/config.ts';
import { errorMessage } from '../platform/errors.ts';
import { kubeGet, kubeMessage } from './kube-get.ts';
import { blocker, pass, type CheckResult } from './report.ts';

export interface AccessNeed {
  /** API group, '' for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly verbs: readonly string[];
  /** null: in every namespace (cluster-wide lists and watches, Sidecars in any namespace). */
  readonly namespace: string | null;
  /** Which part of Discovery needs it. */
  readonly why: string;
  /** Verbs asked for this one object (RBAC may grant them by resourceNames); the others for any. */
  readonly named?: { readonly name: string; readonly verbs: readonly string[] };
}

/** The Lease live mode holds (the elector's default name; test/preflight checks they agree). */
export const LEASE_NAME = 'discovery-reconciler';

/**
 * What live mode does against the API: the informers list and watch five kinds cluster-wide, the
 * Sidecar sink lists, reads, creates, replaces and deletes Sidecars in any namespace, and the
 * elector reads, creates and replaces its Lease in Discovery's namespace (both only when
 * Sidecars are managed).
 */
export function accessNeeds(config: DiscoveryConfig): AccessNeed[] {
  const watch = ['list', 'watch'];
  const needs: AccessNeed[] = [
    { group: '', resource: 'namespaces', verbs: watch, namespace: null, why: 'the Kubernetes source' },
    { group: '', resource: 'services', verbs: watch, namespace: null, why: 'the Kubernetes source' },
    { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: watch, namespace: null, why: 'the Kubernetes source' },
    { group: '', resource: 'pods', verbs: watch, namespace: null, why: 'the Kubernetes source' },
  ];
  if (!config.sidecars.enabled) {
    needs.push({ group: 'networking.istio.io', resource: 'sidecars', verbs: watch, namespace: null, why: 'the Kubernetes source' });
    return needs;
  }
  needs.push(
    { group: 'networking.istio.io', resource: 'sidecars', verbs: ['list', 'watch', 'get', 'create', 'update', 'delete'], namespace: null, why: 'the Kubernetes source and the Sidecar writer' },
    {
      group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], namespace: config.namespace,
      why: `the Lease ${LEASE_NAME} of the replica that removes hosts`, named: { name: LEASE_NAME, verbs: ['get', 'update'] },
    },
  );
  return needs;
}

function ruleText(n: AccessNeed, verbs: readonly string[]): string {
  const where = n.namespace === null ? 'a ClusterRole (bound cluster-wide)' : `a Role in namespace ${n.namespace}`;
  const named = n.named ? verbs.filter((v) => n.named!.verbs.includes(v)) : [];
  const names = named.length > 0 ? ` (${named.join(', ')} may be narrowed to resourceNames [${n.named!.name}])` : '';
  return `grant ${verbs.join(', ')} on ${n.resource} (apiGroup "${n.group}") through ${where}${names}`;
}

export interface RbacResult {
  readonly checks: CheckResult[];
  /** The Kubernetes source may list and watch every kind: the world can be built. */
  readonly sourceCanRead: boolean;
}

export async function rbacChecks(kc: KubeConfig, config: DiscoveryConfig): Promise<RbacResult> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  const out: CheckResult[] = [];
  let sourceCanRead = true;
  for (const need of accessNeeds(config)) {
    const id = `kube-rbac-${need.resource}`;
    const denied: string[] = [];
    try {
      for (const verb of need.verbs) {
        const name = need.named?.verbs.includes(verb) ? need.named.name : undefined;
        const resourceAttributes = { verb, group: need.group, resource: need.resource, ...(need.namespace !== null ? { namespace: need.namespace } : {}), ...(name ? { name } : {}) };
        const answer = await api.createSelfSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } } });
        if (answer.status?.allowed !== true) denied.push(verb);
      }
    } catch (err) {
      out.push(blocker(id, `cannot ask the API server whether ${need.resource} may be read: SelfSubjectAccessReview failed (${errorMessage(err).split('\n')[0] ?? ''})`, 'check kubeconfig / kube-in-cluster and that the API server is reachable'));
      sourceCanRead = false;
      continue;
    }
    if (denied.includes('list') || denied.includes('watch')) sourceCanRead = false;
    const scope = need.namespace === null ? 'in every namespace' : `in namespace ${need.namespace}`;
    if (denied.length === 0) out.push(pass(id, `${need.verbs.join(', ')} ${need.resource} ${scope} allowed (${need.why})`));
    else out.push(blocker(id, `${denied.join(', ')} ${need.resource} ${scope} denied; ${need.why} needs ${need.verbs.join(', ')}`, ruleText(need, denied)));
  }
  return { checks: out, sourceCanRead };
}

/** The Sidecar kind is served at networking.istio.io/v1: Discovery reads and writes only that version. */
export async function sidecarKindCheck(kc: KubeConfig): Promise<CheckResult> {
  const id = 'kube-sidecar-crd';
  const fix = 'install Istio 1.22 or later (its CRDs serve networking.istio.io/v1), or its base chart with the v1 CRDs';
  let a;
  try {
    a = await kubeGet(kc, '/apis/networking.istio.io/v1');
  } catch (err) {
    return blocker(id, `cannot read API discovery for networking.istio.io/v1 (${errorMessage(err)})`, 'check that the API server is reachable');
  }
  if (a.status === 404) return blocker(id, 'networking.istio.io/v1 is not served by this cluster (no Istio CRDs, or an Istio older than 1.22)', fix);
  if (a.status !== 200) return blocker(id, `API discovery of networking.istio.io/v1 answered ${kubeMessage(a)}`, 'check the API server and the credentials');
  const resources = (a.body as { resources?: Array<{ name?: unknown }> } | null)?.resources ?? [];
  if (!resources.some((r) => r.name === 'sidecars')) return blocker(id, 'networking.istio.io/v1 is served but has no sidecars resource', fix);
  return pass(id, 'the Sidecar kind is served at networking.istio.io/v1');
}
