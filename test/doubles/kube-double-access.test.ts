// The parts of the Kubernetes API double that `discovery preflight` reads, through
// @kubernetes/client-node: SelfSubjectAccessReview answering from the double's RBAC rules (and the
// denied request itself being 403 Forbidden), ConfigMaps, ServiceEntries, and API discovery of
// networking.istio.io/v1 and authorization.k8s.io/v1.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthorizationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { KubeDouble } from '../support/kube-double/index.ts';
import { apiError, namespace } from './kube-fixtures.ts';

let kube: KubeDouble;

before(async () => {
  kube = await KubeDouble.start();
  kube.create(namespace('istio-system'));
  kube.create(namespace('discovery'));
});

after(() => kube.close());

async function review(verb: string, group: string, resource: string, ns?: string): Promise<boolean | undefined> {
  const api = kube.kubeConfig().makeApiClient(AuthorizationV1Api);
  const answer = await api.createSelfSubjectAccessReview({
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb, group, resource, ...(ns ? { namespace: ns } : {}) } } },
  });
  return answer.status?.allowed;
}

test('SelfSubjectAccessReview: allowed by default; a denied verb is not allowed and its request is 403 Forbidden', async () => {
  assert.equal(await review('list', '', 'pods'), true);
  assert.equal(await review('update', 'coordination.k8s.io', 'leases', 'discovery'), true);
  kube.faults.deny({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'discovery' });
  kube.faults.deny({ verb: 'watch', group: 'networking.istio.io', resource: 'sidecars' });
  try {
    assert.equal(await review('update', 'coordination.k8s.io', 'leases', 'discovery'), false, 'denied in its namespace');
    assert.equal(await review('update', 'coordination.k8s.io', 'leases', 'other'), true, 'only that namespace');
    assert.equal(await review('get', 'coordination.k8s.io', 'leases', 'discovery'), true, 'only that verb');
    assert.equal(await review('watch', 'networking.istio.io', 'sidecars'), false, 'a rule without a namespace denies cluster-wide');

    const leases = kube.kubeConfig().makeApiClient(CoordinationV1Api);
    const body = { metadata: { name: 'l', namespace: 'discovery' }, spec: { holderIdentity: 'a' } };
    const created = await leases.createNamespacedLease({ namespace: 'discovery', body });
    const err = await apiError(leases.replaceNamespacedLease({ namespace: 'discovery', name: 'l', body: created }));
    assert.equal(err.code, 403, 'the denied update itself is refused');
    assert.equal(err.status['reason'], 'Forbidden');
    assert.match(String(err.status['message']), /cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "discovery"/);
  } finally {
    kube.faults.allowAll();
  }
  assert.equal(await review('update', 'coordination.k8s.io', 'leases', 'discovery'), true, 'allowAll removes the rules');
});

test('ConfigMaps and ServiceEntries are served like the other kinds', async () => {
  kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' } });
  const cm = await kube.kubeConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: 'istio-system', name: 'istio' });
  assert.match(cm.data?.['mesh'] ?? '', /REGISTRY_ONLY/);

  kube.create({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'haproxy', namespace: 'istio-system' }, spec: { hosts: ['haproxy.internal'], addresses: ['10.1.0.0/24'], resolution: 'STATIC' } });
  const list = (await kube.kubeConfig().makeApiClient(CustomObjectsApi).listCustomObjectForAllNamespaces({ group: 'networking.istio.io', version: 'v1', plural: 'serviceentries' })) as { items: Array<{ metadata: { name: string } }> };
  assert.deepEqual(list.items.map((i) => i.metadata.name), ['haproxy']);
});

test('API discovery names the Sidecar and ServiceEntry kinds at networking.istio.io/v1, and the access review API', async () => {
  const kc = kube.kubeConfig();
  const istio = await kc.makeApiClient(CustomObjectsApi).getAPIResources({ group: 'networking.istio.io', version: 'v1' });
  assert.deepEqual(istio.resources.filter((r) => !r.name.includes('/')).map((r) => `${r.kind}=${r.name}`).sort(), ['ServiceEntry=serviceentries', 'Sidecar=sidecars']);
  const authorization = await kc.makeApiClient(AuthorizationV1Api).getAPIResources();
  assert.deepEqual(authorization.resources.map((r) => `${r.kind}=${r.name} ${r.verbs.join(',')}`), ['SelfSubjectAccessReview=selfsubjectaccessreviews create']);
});
