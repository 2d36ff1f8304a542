// The Kubernetes API double through @kubernetes/client-node's generated clients: lists with their
// resourceVersion, reads, creates, optimistic-concurrency updates, deletes, Leases with MicroTime,
// selectors, paging, and the exact Status bodies of the API server's errors.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubernetesObjectApi, V1MicroTime,
  type KubernetesObject, type V1Lease,
} from '@kubernetes/client-node';
import { KubeDouble } from '../support/kube-double/index.ts';
import { apiError, meta, namespace, pod, sidecar, SIDECARS } from './kube-fixtures.ts';

let kube: KubeDouble;
let core: CoreV1Api;
let custom: CustomObjectsApi;

before(async () => {
  kube = await KubeDouble.start();
  const kc = kube.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  kube.create(namespace('shop'));
  kube.create(pod('shop', 'web-1', { app: 'web', tier: 'front' }, '10.0.0.1'));
  kube.create(pod('shop', 'web-2', { app: 'web' }, '10.0.0.2'));
  kube.create(pod('shop', 'db-1', { app: 'db' }, '10.0.0.3'));
  kube.create(pod('other', 'web-1', { app: 'web' }, '10.0.1.1'));
});

after(() => kube.close());

test('a list carries the store resourceVersion, and every item its own', async () => {
  const list = await core.listPodForAllNamespaces();
  assert.equal(list.metadata?.resourceVersion, kube.resourceVersion);
  assert.deepEqual(list.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`), ['other/web-1', 'shop/db-1', 'shop/web-1', 'shop/web-2']);
  const rvs = list.items.map((p) => Number(p.metadata?.resourceVersion));
  assert.equal(new Set(rvs).size, 4, 'each object has the resourceVersion of its own last write');
  assert.ok(rvs.every((rv) => rv > 0 && rv <= Number(kube.resourceVersion)));
  assert.ok(list.items.every((p) => typeof p.metadata?.uid === 'string' && p.metadata.creationTimestamp instanceof Date));
  assert.equal(list.items[0]?.status?.podIP, '10.0.1.1');
});

test('built-in list items come without kind/apiVersion, custom resource items with them', async () => {
  kube.create(sidecar('shop', 'listed'));
  const raw = await fetch(`${kube.url}/api/v1/namespaces/shop/pods`, { headers: { Authorization: 'Bearer test-token' } });
  const podList = (await raw.json()) as { kind: string; items: Array<Record<string, unknown>> };
  assert.equal(podList.kind, 'PodList');
  assert.equal(podList.items[0]?.kind, undefined);
  const sidecars = (await custom.listClusterCustomObject(SIDECARS)) as { kind: string; items: Array<Record<string, unknown>> };
  assert.equal(sidecars.kind, 'SidecarList');
  assert.equal(sidecars.items.find((s) => meta(s).name === 'listed')?.kind, 'Sidecar');
  assert.equal(meta(sidecars.items[0]).generation, 1);
});

test('label and field selectors narrow a list', async () => {
  const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
    (await core.listPodForAllNamespaces({ labelSelector, fieldSelector })).items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
  assert.deepEqual(await names('app=web'), ['other/web-1', 'shop/web-1', 'shop/web-2']);
  assert.deepEqual(await names('app!=web'), ['shop/db-1']);
  assert.deepEqual(await names('app in (db, nothing)'), ['shop/db-1']);
  assert.deepEqual(await names('tier'), ['shop/web-1']);
  assert.deepEqual(await names('!tier,app=web'), ['other/web-1', 'shop/web-2']);
  assert.deepEqual(await names(undefined, 'metadata.namespace=shop,metadata.name!=db-1'), ['shop/web-1', 'shop/web-2']);
  assert.deepEqual(await names(undefined, 'status.podIP=10.0.0.2'), ['shop/web-2']);
  const bad = await apiError(core.listPodForAllNamespaces({ fieldSelector: 'spec.nothing=1' }));
  assert.equal(bad.code, 400);
  assert.equal(bad.status.reason, 'BadRequest');
  assert.equal((await apiError(core.listPodForAllNamespaces({ labelSelector: 'app in web' }))).code, 400);
});

test('limit and continue page through a snapshot taken at the first page', async () => {
  const first = await core.listNamespacedPod({ namespace: 'shop', limit: 2 });
  assert.equal(first.items.length, 2);
  assert.equal(first.metadata?.remainingItemCount, 1);
  const token = first.metadata?._continue;
  assert.ok(token);
  kube.create(pod('shop', 'zz-late'));
  const second = await core.listNamespacedPod({ namespace: 'shop', limit: 2, _continue: token });
  assert.deepEqual(second.items.map((p) => p.metadata?.name), ['web-2'], 'the object created after the first page is not in this list');
  assert.equal(second.metadata?.resourceVersion, first.metadata?.resourceVersion);
  assert.equal(second.metadata?._continue, undefined);
  kube.faults.expire();
  const gone = await apiError(core.listNamespacedPod({ namespace: 'shop', limit: 2, _continue: token }));
  assert.equal(gone.code, 410);
  assert.equal(gone.status.reason, 'Expired');
  kube.remove('v1', 'Pod', 'shop', 'zz-late');
});

test('get, and 404 NotFound with the API server Status body', async () => {
  const p = await core.readNamespacedPod({ namespace: 'shop', name: 'web-1' });
  assert.equal(p.status?.podIP, '10.0.0.1');
  const missing = await apiError(core.readNamespacedPod({ namespace: 'shop', name: 'nope' }));
  assert.equal(missing.code, 404);
  assert.deepEqual(missing.status, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'pods "nope" not found', reason: 'NotFound',
    details: { name: 'nope', kind: 'pods' }, code: 404,
  });
});

test('POST creates (201, server-set metadata); a second POST is 409 AlreadyExists', async () => {
  const created = (await custom.createNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', body: sidecar('shop', 'fresh') })) as KubernetesObject;
  assert.equal(meta(created).resourceVersion, kube.resourceVersion);
  assert.equal(meta(created).generation, 1);
  assert.match(String(meta(created).creationTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const again = await apiError(custom.createNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', body: sidecar('shop', 'fresh') }));
  assert.equal(again.code, 409);
  assert.deepEqual(again.status, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'sidecars.networking.istio.io "fresh" already exists',
    reason: 'AlreadyExists', details: { name: 'fresh', group: 'networking.istio.io', kind: 'sidecars' }, code: 409,
  });
});

test('PUT with the read resourceVersion succeeds; a stale one is 409 Conflict with the exact Status', async () => {
  kube.create(sidecar('shop', 'rmw', ['a/*']));
  const read = (await custom.getNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', name: 'rmw' })) as ReturnType<typeof sidecar>;
  const staleRv = meta(read).resourceVersion;
  read.spec = { egress: [{ hosts: ['a/*', 'b/*'] }] };
  const written = (await custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', name: 'rmw', body: read })) as KubernetesObject;
  assert.notEqual(meta(written).resourceVersion, staleRv);
  assert.equal(meta(written).generation, 2, 'a spec change bumps a custom resource generation');
  const lost = await apiError(custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', name: 'rmw', body: { ...read, metadata: { ...read.metadata, resourceVersion: staleRv } } }));
  assert.equal(lost.code, 409);
  assert.deepEqual(lost.status, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'Operation cannot be fulfilled on sidecars.networking.istio.io "rmw": the object has been modified; please apply your changes to the latest version and try again',
    reason: 'Conflict', details: { name: 'rmw', group: 'networking.istio.io', kind: 'sidecars' }, code: 409,
  });
});

test('PUT of a custom resource without resourceVersion is 422 Invalid; of a missing object 404; name mismatch 400', async () => {
  kube.create(sidecar('shop', 'unconditional'));
  const noRv = await apiError(custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', name: 'unconditional', body: sidecar('shop', 'unconditional') }));
  assert.equal(noRv.code, 422);
  assert.equal(noRv.status.reason, 'Invalid');
  assert.equal(noRv.status.message, 'sidecars.networking.istio.io "unconditional" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
  const missing = await apiError(custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', name: 'ghost', body: { ...sidecar('shop', 'ghost'), metadata: { name: 'ghost', namespace: 'shop', resourceVersion: '1' } } }));
  assert.equal(missing.code, 404);
  const mismatch = await apiError(custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', name: 'unconditional', body: sidecar('shop', 'other-name') }));
  assert.equal(mismatch.code, 400);
  assert.equal(mismatch.status.message, 'the name of the object (other-name) does not match the name on the URL (unconditional)');
  const wrongNs = await apiError(custom.createNamespacedCustomObject({ ...SIDECARS, namespace: 'shop', body: sidecar('elsewhere', 'x') }));
  assert.equal(wrongNs.code, 400);
});

test('a Pod PUT without resourceVersion is unconditional, and .status is kept out of it', async () => {
  const p = await core.readNamespacedPod({ namespace: 'shop', name: 'db-1' });
  p.metadata = { ...p.metadata, resourceVersion: undefined, labels: { app: 'db', edited: 'yes' } };
  p.status = { phase: 'Failed', podIP: '9.9.9.9' };
  const written = await core.replaceNamespacedPod({ namespace: 'shop', name: 'db-1', body: p });
  assert.equal(written.metadata?.labels?.edited, 'yes');
  assert.equal(written.status?.podIP, '10.0.0.3', 'status changes only through the status subresource');
});

test('DELETE answers with the object (Pods, custom resources) or a Success Status (Leases), then 404', async () => {
  kube.create(pod('shop', 'doomed'));
  const gone = await core.deleteNamespacedPod({ namespace: 'shop', name: 'doomed' });
  assert.equal(gone.metadata?.name, 'doomed');
  assert.equal(gone.metadata?.resourceVersion, kube.resourceVersion, 'the deleted object carries the deletion resourceVersion');
  assert.equal(kube.get('v1', 'Pod', 'shop', 'doomed'), null);
  assert.equal((await apiError(core.deleteNamespacedPod({ namespace: 'shop', name: 'doomed' }))).code, 404);
  const leases = kube.kubeConfig().makeApiClient(CoordinationV1Api);
  await leases.createNamespacedLease({ namespace: 'shop', body: { metadata: { name: 'short' }, spec: { holderIdentity: 'a' } } });
  const status = await leases.deleteNamespacedLease({ namespace: 'shop', name: 'short' });
  assert.equal(status.status, 'Success');
  assert.equal(status.details?.kind, 'leases');
});

test('Lease create and replace with V1MicroTime; a 3-digit time is 400 BadRequest', async () => {
  const leases = kube.kubeConfig().makeApiClient(CoordinationV1Api);
  const now = new V1MicroTime();
  const body: V1Lease = { metadata: { name: 'leader', namespace: 'shop' }, spec: { holderIdentity: 'replica-a', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0 } };
  const created = await leases.createNamespacedLease({ namespace: 'shop', body });
  const renew = created.spec?.renewTime as unknown;
  assert.equal(typeof renew, 'string', 'client-node hands MicroTime back as the string the server sent');
  assert.match(renew as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const noRv = await apiError(leases.replaceNamespacedLease({ namespace: 'shop', name: 'leader', body }));
  assert.equal(noRv.code, 422, 'a Lease PUT must carry resourceVersion');
  const renewed = await leases.replaceNamespacedLease({
    namespace: 'shop', name: 'leader',
    body: { ...created, spec: { ...created.spec, renewTime: new V1MicroTime(Date.now() + 1000) } },
  });
  assert.notEqual(renewed.metadata?.resourceVersion, created.metadata?.resourceVersion);
  const stale = await apiError(leases.replaceNamespacedLease({ namespace: 'shop', name: 'leader', body: created }));
  assert.equal(stale.code, 409);
  assert.equal(stale.status.message, 'Operation cannot be fulfilled on leases.coordination.k8s.io "leader": the object has been modified; please apply your changes to the latest version and try again');
  const raw = await fetch(`${kube.url}/apis/coordination.k8s.io/v1/namespaces/shop/leases`, {
    method: 'POST',
    headers: { Authorization: 'Bearer test-token', 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'millis' }, spec: { renewTime: '2024-05-01T10:00:00.123Z' } }),
  });
  assert.equal(raw.status, 400);
  const status = (await raw.json()) as Record<string, unknown>;
  assert.equal(status.reason, 'BadRequest');
  assert.equal(status.message, 'Lease in version "v1" cannot be handled as a Lease: parsing time "2024-05-01T10:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123Z" as ".000000"');
  assert.throws(() => kube.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'x', namespace: 'shop' }, spec: { acquireTime: '2024-05-01T10:00:00Z' } }), /cannot parse "Z" as ".000000"/);
});

test('EndpointSlices and Services through their typed clients', async () => {
  kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }] } });
  kube.create({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }], ports: [{ port: 8080 }],
  });
  const slices = await kube.kubeConfig().makeApiClient(DiscoveryV1Api).listEndpointSliceForAllNamespaces({ labelSelector: 'kubernetes.io/service-name=web' });
  assert.deepEqual(slices.items.map((s) => s.endpoints[0]?.addresses), [['10.0.0.1']]);
  const services = await core.listServiceForAllNamespaces();
  assert.equal(services.items[0]?.spec?.clusterIP, '10.96.0.10');
});

test('KubernetesObjectApi discovers the resource path of a custom kind and creates through it', async () => {
  const objects = KubernetesObjectApi.makeApiClient(kube.kubeConfig());
  kube.stats.reset();
  const created = await objects.create(sidecar('shop', 'generic'));
  assert.equal(created.metadata?.name, 'generic');
  assert.equal(kube.stats.requests({ method: 'GET', pathPrefix: '/apis/networking.istio.io/v1' }), 1, 'discovery of the group/version');
  const read = await objects.read({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'generic', namespace: 'shop' } });
  assert.equal(read.metadata?.uid, created.metadata?.uid);
});

test('a wrong or missing token is 401 Unauthorized', async () => {
  const attempts: Array<Record<string, string>> = [{}, { Authorization: 'Bearer wrong' }];
  for (const headers of attempts) {
    const res = await fetch(`${kube.url}/api/v1/pods`, { headers });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  }
});

test('direct writes: create throws on an existing object, apply replaces, remove deletes, each bumps the resourceVersion', () => {
  const before = Number(kube.resourceVersion);
  const created = kube.create(pod('shop', 'direct'));
  assert.equal(meta(created).resourceVersion, String(before + 1));
  assert.throws(() => kube.create(pod('shop', 'direct')), /pods "direct" already exists/);
  const replaced = kube.apply(pod('shop', 'direct', {}, '10.9.9.9'));
  assert.equal(meta(replaced).uid, meta(created).uid);
  assert.equal((kube.get('v1', 'Pod', 'shop', 'direct') as { status: { podIP: string } }).status.podIP, '10.9.9.9');
  kube.remove('v1', 'Pod', 'shop', 'direct');
  assert.equal(kube.resourceVersion, String(before + 3));
  assert.throws(() => kube.remove('v1', 'Pod', 'shop', 'direct'), /does not exist/);
  assert.throws(() => kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: 'shop' } }), /no resource type v1 Secret/);
  assert.throws(() => kube.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }), /needs metadata.namespace/);
  assert.deepEqual(kube.list('v1', 'Pod', 'other').map((p) => meta(p).name), ['web-1']);
});
