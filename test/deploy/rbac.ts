// A small evaluator of Kubernetes RBAC for resource requests, as the API server's authorizer
// decides them: a request (verb, API group, resource, namespace, object name) is allowed when a
// rule of a Role or ClusterRole bound to the subject matches it. A ClusterRoleBinding applies a
// ClusterRole everywhere (every namespace and cluster scope); a RoleBinding applies its Role or
// ClusterRole in its own namespace only. A rule with resourceNames matches only requests that name
// one of those objects (never a list, watch or create, which name none).
//
// It also lists every grant the rules make, one (verb, group, resource, scope, name) at a time,
// so a test can find grants no request needed. Wildcards are refused: '*' grants kinds and verbs
// that no finite list of requests could show to be needed.

import type { KubeObject } from './kustomize.ts';

export interface ResourceRequest {
  readonly verb: string;
  /** '' for the core group. */
  readonly group: string;
  /** Lower-case plural, as in URLs. */
  readonly resource: string;
  /** null: cluster scope (a cluster-scoped kind, or a namespaced kind across all namespaces). */
  readonly namespace: string | null;
  /** The object the request names (get, update, delete); null for list, watch and create. */
  readonly name: string | null;
}

export interface Grant {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  /** null: everywhere (a ClusterRoleBinding); else the one namespace of a RoleBinding. */
  readonly namespace: string | null;
  /** null: any object; else only this one. */
  readonly resourceName: string | null;
  /** Which binding and role made it, for messages. */
  readonly via: string;
}

export interface Subject {
  readonly kind: 'ServiceAccount';
  readonly namespace: string;
  readonly name: string;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Binding {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

export function describeRequest(r: ResourceRequest): string {
  const what = r.group === '' ? r.resource : `${r.resource}.${r.group}`;
  const where = r.namespace === null ? 'cluster-wide' : `in namespace ${r.namespace}`;
  return `${r.verb} ${what}${r.name ? `/${r.name}` : ''} ${where}`;
}

export function describeGrant(g: Grant): string {
  const what = g.group === '' ? g.resource : `${g.resource}.${g.group}`;
  const where = g.namespace === null ? 'everywhere' : `in namespace ${g.namespace}`;
  return `${g.verb} ${what}${g.resourceName ? `/${g.resourceName}` : ''} ${where} (${g.via})`;
}

/** Does this grant allow this request? */
export function grantAllows(g: Grant, r: ResourceRequest): boolean {
  if (g.verb !== r.verb || g.group !== r.group || g.resource !== r.resource) return false;
  // A namespaced grant never covers a cluster-scope request (it would reach other namespaces).
  if (g.namespace !== null && g.namespace !== r.namespace) return false;
  return g.resourceName === null || g.resourceName === r.name;
}

export class RbacPolicy {
  readonly #grants: Grant[];

  private constructor(grants: Grant[]) {
    this.#grants = grants;
  }

  /** The grants the rendered objects give `subject`. Throws on what this evaluator does not model. */
  static forSubject(objects: readonly KubeObject[], subject: Subject): RbacPolicy {
    const roles = new Map<string, PolicyRule[]>();
    for (const o of objects) {
      if (o.apiVersion !== 'rbac.authorization.k8s.io/v1' || (o.kind !== 'Role' && o.kind !== 'ClusterRole')) continue;
      if (o['aggregationRule'] !== undefined) throw new Error(`${o.kind} ${o.metadata.name}: aggregated roles are not modelled`);
      const key = o.kind === 'Role' ? `Role/${o.metadata.namespace ?? ''}/${o.metadata.name}` : `ClusterRole/${o.metadata.name}`;
      roles.set(key, (o['rules'] as PolicyRule[] | undefined) ?? []);
    }
    const grants: Grant[] = [];
    for (const o of objects) {
      if (o.apiVersion !== 'rbac.authorization.k8s.io/v1' || (o.kind !== 'RoleBinding' && o.kind !== 'ClusterRoleBinding')) continue;
      const b = o as unknown as KubeObject & Binding;
      const bound = (b.subjects ?? []).some((s) => s.kind === subject.kind && s.name === subject.name && (s.namespace ?? '') === subject.namespace);
      if (!bound) continue;
      const namespace = o.kind === 'RoleBinding' ? (o.metadata.namespace ?? null) : null;
      if (o.kind === 'RoleBinding' && namespace === null) throw new Error(`RoleBinding ${o.metadata.name} has no namespace`);
      if (o.kind === 'ClusterRoleBinding' && b.roleRef.kind !== 'ClusterRole') throw new Error(`ClusterRoleBinding ${o.metadata.name} refers to a ${b.roleRef.kind}`);
      const key = b.roleRef.kind === 'Role' ? `Role/${namespace ?? ''}/${b.roleRef.name}` : `ClusterRole/${b.roleRef.name}`;
      const rules = roles.get(key);
      if (!rules) throw new Error(`${o.kind} ${o.metadata.name} refers to ${key}, which is not rendered`);
      const via = `${o.kind} ${o.metadata.name} → ${key}`;
      for (const rule of rules) {
        if (rule.nonResourceURLs?.length) throw new Error(`${via}: nonResourceURLs are not modelled`);
        for (const list of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames]) {
          if (list?.includes('*')) throw new Error(`${via}: a wildcard grants more than any request list can show to be needed`);
        }
        const names = rule.resourceNames?.length ? rule.resourceNames : [null];
        for (const group of rule.apiGroups ?? []) {
          for (const resource of rule.resources ?? []) {
            for (const verb of rule.verbs ?? []) {
              for (const resourceName of names) grants.push({ verb, group, resource, namespace, resourceName, via });
            }
          }
        }
      }
    }
    return new RbacPolicy(grants);
  }

  grants(): readonly Grant[] {
    return this.#grants;
  }

  allows(r: ResourceRequest): boolean {
    return this.#grants.some((g) => grantAllows(g, r));
  }
}

/** The verb the authorizer sees for a request on a resource path. */
export function verbOf(method: string, watch: boolean, named: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      throw new Error(`no RBAC verb for HTTP method ${method}`);
  }
}
