// Injected failures and request statistics of the Kubernetes API double, seen through
// @kubernetes/client-node: error Statuses on matching requests, forced 409s on PUT, and the
// request log tests use to tell what a client did.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, makeInformer } from '@kubernetes/client-node';
import { KubeDouble } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { apiError, meta, pod, sidecar, SIDECARS } from './kube-fixtures.ts';

async function startDouble(t: TestContext): Promise<KubeDouble> {
  const kube = await KubeDouble.start();
  t.after(() => kube.close());
  return kube;
}

test('fail(): the next request answers 500 InternalError, then the server serves again', async (t) => {
  const kube = await startDouble(t);
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  kube.faults.fail(1);
  const failed = await apiError(core.listPodForAllNamespaces());
  assert.equal(failed.code, 500);
  assert.deepEqual(failed.status, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Internal error occurred: injected fault', reason: 'InternalError',
    details: { causes: [{ message: 'injected fault' }] }, code: 500,
  });
  assert.equal((await core.listPodForAllNamespaces()).items.length, 0);
});

test('fail() with a match hits only matching requests; always lasts until fail(0)', async (t) => {
  const kube = await startDouble(t);
  kube.create(pod('ns', 'a'));
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  kube.faults.fail('always', 503, { method: 'GET', pathPrefix: '/api/v1/namespaces/ns/pods/' });
  assert.equal((await core.listPodForAllNamespaces()).items.length, 1, 'another path is served');
  for (let i = 0; i < 3; i++) {
    const failed = await apiError(core.readNamespacedPod({ namespace: 'ns', name: 'a' }));
    assert.equal(failed.code, 503);
    assert.equal(failed.status.reason, 'ServiceUnavailable');
  }
  kube.faults.fail(0);
  assert.equal((await core.readNamespacedPod({ namespace: 'ns', name: 'a' })).metadata?.name, 'a');
  assert.throws(() => kube.faults.fail(-1), /count must be/);
  assert.throws(() => kube.faults.fail(1, 200), /status must be an HTTP error code/);
});

test('a failed LIST reaches the informer only as an error event; start() still resolves', async (t) => {
  const kube = await startDouble(t);
  const kc = kube.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
  const errors: unknown[] = [];
  informer.on('error', (err) => errors.push(err));
  t.after(() => informer.stop());
  kube.faults.fail(1, 500, { method: 'GET', pathPrefix: '/api/v1/pods', watch: false });
  await informer.start();
  await eventually(() => assert.equal(errors.length, 1), 'the informer error');
  assert.equal((errors[0] as { code?: number }).code, 500);
  assert.equal(kube.stats.openWatches(), 0, 'no watch after a failed LIST');
});

test('conflicts(): the next matching PUT answers 409 as if modified; the retry with the same resourceVersion succeeds', async (t) => {
  const kube = await startDouble(t);
  const custom = kube.kubeConfig().makeApiClient(CustomObjectsApi);
  kube.create(sidecar('ns', 'sc'));
  kube.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns' }, spec: {} });
  const read = (await custom.getNamespacedCustomObject({ ...SIDECARS, namespace: 'ns', name: 'sc' })) as ReturnType<typeof sidecar>;
  kube.faults.conflicts(1, { pathPrefix: '/apis/networking.istio.io/' });
  const leases = kube.kubeConfig().makeApiClient(CoordinationV1Api);
  const lease = await leases.readNamespacedLease({ namespace: 'ns', name: 'l' });
  await leases.replaceNamespacedLease({ namespace: 'ns', name: 'l', body: lease }); // another path: not affected
  const rvBefore = kube.resourceVersion;
  const conflict = await apiError(custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'ns', name: 'sc', body: read }));
  assert.equal(conflict.code, 409);
  assert.equal(conflict.status.reason, 'Conflict');
  assert.equal(conflict.status.message, 'Operation cannot be fulfilled on sidecars.networking.istio.io "sc": the object has been modified; please apply your changes to the latest version and try again');
  assert.equal(kube.resourceVersion, rvBefore, 'nothing was written');
  const written = await custom.replaceNamespacedCustomObject({ ...SIDECARS, namespace: 'ns', name: 'sc', body: read });
  assert.notEqual(meta(written).resourceVersion, meta(read).resourceVersion);
});

test('stats: requests counted by method, path and watch; the log has query and status; reset clears it', async (t) => {
  const kube = await startDouble(t);
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  await core.listPodForAllNamespaces({ labelSelector: 'app=web' });
  await apiError(core.readNamespacedPod({ namespace: 'ns', name: 'missing' }));
  assert.equal(kube.stats.requests(), 2);
  assert.equal(kube.stats.requests({ method: 'get', pathPrefix: '/api/v1/namespaces/' }), 1);
  assert.equal(kube.stats.requests({ watch: true }), 0);
  const log = kube.stats.log();
  assert.deepEqual(log.map((e) => [e.method, e.path, e.query, e.status]), [
    ['GET', '/api/v1/pods', { labelSelector: 'app=web' }, 200],
    ['GET', '/api/v1/namespaces/ns/pods/missing', {}, 404],
  ]);
  assert.ok(log.every((e) => typeof e.at === 'number' && e.at > 0));
  kube.stats.reset();
  assert.equal(kube.stats.requests(), 0);
});

test('the status subresource changes only .status; a create through the API starts a Pod Pending', async (t) => {
  const kube = await startDouble(t);
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  const created = await core.createNamespacedPod({ namespace: 'ns', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }] }, status: { podIP: '1.2.3.4' } } });
  assert.deepEqual({ ...created.status }, { phase: 'Pending' });
  const withStatus = await core.replaceNamespacedPodStatus({
    namespace: 'ns', name: 'p',
    body: { ...created, metadata: { ...created.metadata, labels: { ignored: 'yes' } }, status: { phase: 'Running', podIP: '10.1.1.1' } },
  });
  assert.equal(withStatus.status?.podIP, '10.1.1.1');
  assert.equal(withStatus.metadata?.labels, undefined, 'the status subresource leaves metadata alone');
});

test('option checks: a bad historyLimit is refused at start', async () => {
  await assert.rejects(KubeDouble.start({ historyLimit: 0 }), /historyLimit must be a positive integer/);
});
