// The Kubernetes (and Istio) schema of each kind deploy/ renders, from the kubernetes-models
// packages: `validate()` checks an object against the API's OpenAPI schema (types, required
// fields, enums). A kind without an entry here is an error, so nothing rendered goes unchecked.

import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Sidecar } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Sidecar';
import type { KubeObject } from './kustomize.ts';

type Validating = new (data: never) => { validate(): void };

const MODELS: ReadonlyMap<string, Validating> = new Map<string, Validating>([
  ['v1/Namespace', Namespace],
  ['v1/ServiceAccount', ServiceAccount],
  ['v1/ConfigMap', ConfigMap],
  ['v1/Secret', Secret],
  ['v1/Service', Service],
  ['apps/v1/Deployment', Deployment],
  ['apps/v1/DaemonSet', DaemonSet],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
  ['networking.k8s.io/v1/NetworkPolicy', NetworkPolicy],
  ['rbac.authorization.k8s.io/v1/ClusterRole', ClusterRole],
  ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', ClusterRoleBinding],
  ['rbac.authorization.k8s.io/v1/Role', Role],
  ['rbac.authorization.k8s.io/v1/RoleBinding', RoleBinding],
]);

/** Throws, naming the object, when it does not match its kind's schema or its kind has none here. */
export function validateObject(obj: KubeObject): void {
  const Model = MODELS.get(`${obj.apiVersion}/${obj.kind}`);
  const what = `${obj.apiVersion} ${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
  if (!Model) throw new Error(`${what}: no schema known to test/deploy/schemas.ts (add the kind's kubernetes-models class)`);
  try {
    new Model(structuredClone(obj) as never).validate();
  } catch (err) {
    throw new Error(`${what} does not match the Kubernetes schema: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * An Istio Sidecar against Istio's schema. The models package carries networking.istio.io up to
 * v1beta1, whose Sidecar schema is the one v1 serves (v1 was promoted from it unchanged).
 */
export function validateSidecar(obj: KubeObject): void {
  if (obj.apiVersion !== 'networking.istio.io/v1' && obj.apiVersion !== 'networking.istio.io/v1beta1') throw new Error(`not an Istio Sidecar: ${obj.apiVersion} ${obj.kind}`);
  try {
    new Sidecar({ ...(structuredClone(obj) as object), apiVersion: 'networking.istio.io/v1beta1' } as never).validate();
  } catch (err) {
    throw new Error(`Sidecar ${obj.metadata.namespace}/${obj.metadata.name} does not match Istio's schema: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
