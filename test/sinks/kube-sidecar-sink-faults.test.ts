import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeDouble } from '../support/kube-double/index.ts';
import { KubeIntercept } from './kube-intercept.ts';
import { countRequests, host, metricValue, newSink, NS, sidecar, stored, storedHosts, userSidecar, write } from './kube-sidecar-fixtures.ts';
import type { SidecarObject } from '../../src/sinks/sidecar-sink.ts';

let double: KubeDouble;
before(async () => {
  double = await KubeDouble.start();
});
after(async () => {
  await double.close();
});

const SIDECARS = '/apis/networking.istio.io/v1/namespaces/bookinfo/sidecars/';

test('a storm of 409s: each is followed by a fresh read, then the write lands', async () => {
  const { sink, registry } = newSink(double.kubeConfig());
  await sink.apply([write(sidecar('stormy', [host('a')]))]);
  double.faults.conflicts(3, { pathPrefix: `${SIDECARS}stormy` });
  const gets = countRequests(double, 'GET');
  const r = await sink.apply([write(sidecar('stormy', [host('b')]))]);
  assert.deepEqual(r, { applied: [`${NS}/stormy`], failed: [] });
  assert.deepEqual(storedHosts(double, 'stormy'), [host('a'), host('b'), 'istio-system/*'].sort());
  assert.equal(await metricValue(registry, 'discovery_kube_sidecar_conflicts_total'), 3);
  assert.equal(countRequests(double, 'GET') - gets, 4, 'one read per attempt');
});

test('409s past maxAttempts: a failed entry naming the Sidecar and the attempts, nothing written; the next cycle succeeds', async () => {
  const { sink, registry } = newSink(double.kubeConfig(), { maxAttempts: 3 });
  await sink.apply([write(sidecar('hopeless', [host('a')]))]);
  const rv = stored(double, 'hopeless')?.metadata.resourceVersion;
  double.faults.conflicts(10, { pathPrefix: `${SIDECARS}hopeless` });
  const r = await sink.apply([write(sidecar('hopeless', [host('b')]))]);
  double.faults.conflicts(0);
  assert.deepEqual(r.applied, []);
  assert.equal(r.failed.length, 1);
  assert.equal(r.failed[0]!.key, `${NS}/hopeless`);
  assert.match(r.failed[0]!.error, /gave up on Sidecar bookinfo\/hopeless after 3 attempts: HTTP 409 Conflict/);
  assert.equal(stored(double, 'hopeless')?.metadata.resourceVersion, rv);
  assert.equal(await metricValue(registry, 'discovery_kube_sidecar_writes_total', { op: 'update', result: 'exhausted' }), 1);
  assert.equal(await metricValue(registry, 'discovery_kube_sidecar_conflicts_total'), 3);

  assert.deepEqual((await sink.apply([write(sidecar('hopeless', [host('b')]))])).failed, []);
  assert.deepEqual(storedHosts(double, 'hopeless'), [host('a'), host('b'), 'istio-system/*'].sort());
});

test("a user's Sidecar with the same name is never changed or deleted: the write and the delete report a conflict", async () => {
  double.create(userSidecar('users-own', ['./*']));
  const before = JSON.stringify(stored(double, 'users-own'));
  const { sink, registry } = newSink(double.kubeConfig());
  const writes = countRequests(double, 'PUT') + countRequests(double, 'POST') + countRequests(double, 'DELETE');

  const r = await sink.apply([write(sidecar('users-own', [host('reviews')]))]);
  assert.deepEqual(r.applied, []);
  assert.match(r.failed[0]!.error, /^conflict: Sidecar bookinfo\/users-own is not managed by Discovery \(label app\.kubernetes\.io\/managed-by=discovery missing\)/);
  const d = await sink.delete([{ namespace: NS, name: 'users-own' }]);
  assert.deepEqual(d.applied, []);
  assert.match(d.failed[0]!.error, /^conflict: Sidecar bookinfo\/users-own is not managed by Discovery/);

  assert.equal(JSON.stringify(stored(double, 'users-own')), before);
  assert.equal(countRequests(double, 'PUT') + countRequests(double, 'POST') + countRequests(double, 'DELETE'), writes, 'no write request at all');
  assert.equal(await metricValue(registry, 'discovery_kube_sidecar_writes_total', { result: 'refused' }), 2);
  const back = await sink.readBack();
  assert.ok(back.ok, 'read-back succeeds');
  assert.ok(!back.sidecars.some((s) => s.metadata.name === 'users-own'), 'read-back lists only managed Sidecars');
});

test('our Sidecar whose label a person removed is left alone from then on', async () => {
  const { sink } = newSink(double.kubeConfig());
  await sink.apply([write(sidecar('taken-over', [host('a')]))]);
  const ours = stored(double, 'taken-over')!;
  double.apply({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'taken-over', namespace: NS, labels: {} }, spec: ours.spec });
  const before = JSON.stringify(stored(double, 'taken-over'));
  const r = await sink.apply([write(sidecar('taken-over', [host('b')]))]);
  assert.match(r.failed[0]?.error ?? '', /^conflict: Sidecar bookinfo\/taken-over is not managed by Discovery/);
  assert.match((await sink.delete([{ namespace: NS, name: 'taken-over' }])).failed[0]?.error ?? '', /^conflict/);
  assert.equal(JSON.stringify(stored(double, 'taken-over')), before);
});

test('a write without the managed-by label is refused before any request', async () => {
  const { sink } = newSink(double.kubeConfig());
  const unlabelled: SidecarObject = { ...sidecar('no-label', [host('a')]) };
  const bad: SidecarObject = { ...unlabelled, metadata: { ...unlabelled.metadata, labels: {} } };
  const requests = double.stats.requests();
  const r = await sink.apply([write(bad)]);
  assert.match(r.failed[0]?.error ?? '', /refusing to write Sidecar bookinfo\/no-label/);
  assert.equal(double.stats.requests(), requests);
});

test('delete: removes our Sidecar with resourceVersion and uid preconditions; a missing one is done', async () => {
  const proxy = await KubeIntercept.start(double.kubeConfig());
  try {
    const { sink, registry } = newSink(proxy.kubeConfig());
    await sink.apply([write(sidecar('doomed', [host('a')]))]);
    const { metadata } = stored(double, 'doomed')!;
    const r = await sink.delete([
      { namespace: NS, name: 'doomed' },
      { namespace: NS, name: 'never-was' },
    ]);
    assert.deepEqual(r, { applied: [`${NS}/doomed`, `${NS}/never-was`], failed: [] });
    assert.equal(stored(double, 'doomed'), null);
    const del = proxy.seen.filter((q) => q.method === 'DELETE');
    assert.equal(del.length, 1, 'nothing to delete for the missing one');
    assert.deepEqual((del[0]!.body as { preconditions: unknown }).preconditions, { resourceVersion: metadata.resourceVersion, uid: metadata.uid });
    assert.equal(await metricValue(registry, 'discovery_kube_sidecar_writes_total', { op: 'delete', result: 'absent' }), 1);
  } finally {
    await proxy.close();
  }
});

test('delete: a label removed between the check and the DELETE fails the precondition; the object survives', async () => {
  const proxy = await KubeIntercept.start(double.kubeConfig());
  try {
    const { sink } = newSink(proxy.kubeConfig());
    await sink.apply([write(sidecar('rescued', [host('a')]))]);
    proxy.hook = (req) => {
      if (req.method === 'DELETE') {
        const ours = stored(double, 'rescued')!;
        double.apply({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'rescued', namespace: NS, labels: { owner: 'me' } }, spec: ours.spec });
      }
      return undefined;
    };
    const r = await sink.delete([{ namespace: NS, name: 'rescued' }]);
    assert.deepEqual(r.applied, []);
    assert.match(r.failed[0]?.error ?? '', /^conflict: Sidecar bookinfo\/rescued is not managed by Discovery/);
    assert.notEqual(stored(double, 'rescued'), null);
    assert.deepEqual(
      proxy.seen.slice(-3).map((q) => q.method),
      ['GET', 'DELETE', 'GET'],
      'checked, refused by the precondition (409), checked again',
    );
  } finally {
    await proxy.close();
  }
});

test('readBack: a failed LIST is ok:false, a failed later page too (never a partial list); pages add up', async () => {
  const { sink } = newSink(double.kubeConfig());
  await sink.apply(['page-a', 'page-b', 'page-c', 'page-d', 'page-e'].map((n) => write(sidecar(n, [host('a')]))));

  double.faults.fail(1, 500, { method: 'GET', pathPrefix: '/apis/networking.istio.io/v1/sidecars' });
  const failed = await sink.readBack();
  assert.ok(!failed.ok, 'a failed LIST is not a list');
  assert.match(failed.error, /^cannot list managed Sidecars: HTTP 500/);

  const proxy = await KubeIntercept.start(double.kubeConfig());
  try {
    const paged = newSink(proxy.kubeConfig(), { pageSize: 2 });
    const whole = await paged.sink.readBack();
    assert.ok(whole.ok, 'paged read-back succeeds');
    const names = whole.sidecars.map((s) => s.metadata.name);
    for (const n of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) assert.ok(names.includes(n), `${n} listed`);
    assert.ok(proxy.seen.length >= 3, 'several pages');
    assert.ok(proxy.seen.every((q) => q.url.includes('labelSelector=app.kubernetes.io%2Fmanaged-by%3Ddiscovery')), 'every page asks for managed Sidecars only');

    proxy.hook = (req) => (req.url.includes('continue=') ? { status: 500, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'InternalError', code: 500, message: 'etcd hiccup' } } : undefined);
    const partial = await paged.sink.readBack();
    assert.ok(!partial.ok, 'a failed later page fails the whole read');
    assert.match(partial.error, /HTTP 500 InternalError: etcd hiccup/);
  } finally {
    await proxy.close();
  }
});

test('the API down: every entry fails with a message naming its Sidecar, readBack is ok:false, nothing throws; back up, it works', async () => {
  const { sink } = newSink(double.kubeConfig(), { requestTimeoutMs: 2000 });
  await double.faults.down();
  try {
    const r = await sink.apply([write(sidecar('while-down', [host('a')]))]);
    assert.deepEqual(r.applied, []);
    assert.match(r.failed[0]?.error ?? '', /^cannot read Sidecar bookinfo\/while-down: /);
    const d = await sink.delete([{ namespace: NS, name: 'while-down' }]);
    assert.match(d.failed[0]?.error ?? '', /^cannot read Sidecar bookinfo\/while-down: /);
    assert.equal((await sink.readBack()).ok, false);
  } finally {
    await double.faults.up();
  }
  assert.deepEqual((await sink.apply([write(sidecar('while-down', [host('a')]))])).failed, []);
});

test('a server that never answers: the request times out and the entry fails', async () => {
  const proxy = await KubeIntercept.start(double.kubeConfig());
  let release: () => void = () => undefined;
  try {
    const { sink } = newSink(proxy.kubeConfig(), { requestTimeoutMs: 200 });
    proxy.hook = () => new Promise((resolve) => (release = () => resolve(undefined)));
    const r = await sink.apply([write(sidecar('silent', [host('a')]))]);
    assert.match(r.failed[0]?.error ?? '', /^cannot read Sidecar bookinfo\/silent: no answer before the request timeout/);
  } finally {
    release();
    await proxy.close();
  }
});
