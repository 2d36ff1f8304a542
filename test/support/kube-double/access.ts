// Authorization in the double: everything is allowed unless a test denies it. A denied request
// is 403 Forbidden with the API server's message, and SelfSubjectAccessReview (the API a client
// asks "may I?") answers from the same rules, so a check and the real request always agree.

import { badRequest, KubeStatusError } from './status.ts';
import type { ResourceTarget } from './routes.ts';

/** One denied permission; an absent namespace denies it in every namespace and cluster-wide. */
export interface DenyRule {
  readonly verb: string;
  /** API group, '' for the core group. */
  readonly group: string;
  /** Lower-case plural, as in URLs (`pods`, `sidecars`). */
  readonly resource: string;
  readonly namespace?: string;
}

export interface AccessAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  /** '' or absent: cluster-wide (all namespaces). */
  readonly namespace: string;
}

/** The subject every token of the double stands for, as the API server names it in messages. */
export const SUBJECT = 'system:serviceaccount:discovery:discovery';

export class AccessRules {
  private readonly denied: DenyRule[] = [];

  deny(rule: DenyRule): void {
    this.denied.push({ ...rule });
  }

  /** Removes every deny rule. */
  allowAll(): void {
    this.denied.length = 0;
  }

  allowed(a: AccessAttributes): boolean {
    // A rule without a namespace denies everywhere; one with a namespace denies there, and also
    // cluster-wide requests (all namespaces include that one).
    return !this.denied.some(
      (r) => r.verb === a.verb && r.group === a.group && r.resource === a.resource && (r.namespace === undefined || a.namespace === '' || r.namespace === a.namespace),
    );
  }
}

/** The verb of a resource request, as the API server's authorizer sees it. */
export function requestVerb(method: string, watch: boolean, target: ResourceTarget): string {
  if (method === 'GET') return watch ? 'watch' : target.name === null ? 'list' : 'get';
  if (method === 'POST') return 'create';
  if (method === 'PUT') return 'update';
  if (method === 'DELETE') return 'delete';
  return method.toLowerCase();
}

export function forbidden(a: AccessAttributes): KubeStatusError {
  const qualified = a.group === '' ? a.resource : `${a.resource}.${a.group}`;
  const scope = a.namespace === '' ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  const message = `${qualified} is forbidden: User "${SUBJECT}" cannot ${a.verb} resource "${a.resource}" in API group "${a.group}" ${scope}`;
  return new KubeStatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Forbidden', details: { group: a.group, kind: a.resource }, code: 403 });
}

export const ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

/** The answer to a SelfSubjectAccessReview POST: the review with its status filled in. */
export function reviewAnswer(rules: AccessRules, body: unknown): object {
  const review = body as { apiVersion?: unknown; kind?: unknown; spec?: { resourceAttributes?: Record<string, unknown> } } | undefined;
  const attrs = review?.spec?.resourceAttributes;
  if (!attrs || typeof attrs['verb'] !== 'string' || typeof attrs['resource'] !== 'string') {
    throw badRequest('SelfSubjectAccessReview in version "v1" cannot be handled: spec.resourceAttributes.verb and .resource are required by this test API server');
  }
  const a: AccessAttributes = {
    verb: attrs['verb'],
    group: typeof attrs['group'] === 'string' ? attrs['group'] : '',
    resource: attrs['resource'],
    namespace: typeof attrs['namespace'] === 'string' ? attrs['namespace'] : '',
  };
  const allowed = rules.allowed(a);
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: review?.spec ?? {},
    status: allowed ? { allowed: true, reason: 'allowed by the test API server' } : { allowed: false, reason: `denied by a test rule: ${forbidden(a).message}` },
  };
}
