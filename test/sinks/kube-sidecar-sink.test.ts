import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeDouble } from '../support/kube-double/index.ts';
import { KubeIntercept } from './kube-intercept.ts';
import { countRequests, host, metricValue, newSink, NS, sidecar, stored, storedHosts, T0, write } from './kube-sidecar-fixtures.ts';
import { parseHostRecords } from '../../src/sinks/kubernetes/host-records.ts';
import { ANN_HOSTS } from '../../src/reconcile/managed-sidecar.ts';

let double: KubeDouble;
before(async () => {
  double = await KubeDouble.start();
});
after(async () => {
  await double.close();
});

test('a new Sidecar is created by POST and read back; the same write again sends no PUT', async () => {
  const { sink, registry } = newSink(double.kubeConfig());
  const object = sidecar('create-me', [host('reviews')]);
  assert.deepEqual(await sink.apply([write(object)]), { applied: [`${NS}/create-me`], failed: [] });
  assert.deepEqual(storedHosts(double, 'create-me'), [host('reviews'), 'istio-system/*']);
  assert.equal(stored(double, 'create-me')?.metadata.labels?.['app.kubernetes.io/managed-by'], 'discovery');

  const back = await sink.readBack();
  assert.ok(back.ok, 'read-back succeeds');
  assert.deepEqual(
    back.sidecars.find((s) => s.metadata.name === 'create-me'),
    object,
    'read back exactly as rendered',
  );

  const puts = countRequests(double, 'PUT');
  const rv = stored(double, 'create-me')?.metadata.resourceVersion;
  assert.deepEqual(await sink.apply([write(object)]), { applied: [`${NS}/create-me`], failed: [] });
  assert.equal(countRequests(double, 'PUT'), puts, 'unchanged after the merge: nothing written');
  assert.equal(stored(double, 'create-me')?.metadata.resourceVersion, rv);
  assert.equal(await metricValue(registry, 'discovery_kube_sidecar_writes_total', { op: 'create', result: 'ok' }), 1);
  assert.equal(await metricValue(registry, 'discovery_kube_sidecar_writes_total', { op: 'update', result: 'unchanged' }), 1);
});

test('replicas writing different hosts to one Sidecar at the same time: every host lands (create race, then update race)', async () => {
  const replicas = ['r1', 'r2', 'r3', 'r4'].map(() => newSink(double.kubeConfig()));
  const first = replicas.map((_, i) => host(`first-${i}`));
  const created = await Promise.all(replicas.map(({ sink }, i) => sink.apply([write(sidecar('shared', [first[i]!]))])));
  for (const r of created) assert.deepEqual(r.failed, []);
  assert.deepEqual(storedHosts(double, 'shared'), [...first, 'istio-system/*'].sort());

  const second = replicas.map((_, i) => host(`second-${i}`));
  const updated = await Promise.all(replicas.map(({ sink }, i) => sink.apply([write(sidecar('shared', [second[i]!]))])));
  for (const r of updated) assert.deepEqual(r.failed, []);
  assert.deepEqual(storedHosts(double, 'shared'), [...first, ...second, 'istio-system/*'].sort());
  const records = parseHostRecords(stored(double, 'shared')?.metadata.annotations?.[ANN_HOSTS]);
  assert.deepEqual([...records.keys()].sort(), [...first, ...second].sort(), 'every host keeps its times');
});

test('a PUT that loses the race to another replica is re-read and re-merged: both hosts stay', async () => {
  const proxy = await KubeIntercept.start(double.kubeConfig());
  try {
    const slow = newSink(proxy.kubeConfig());
    const fast = newSink(double.kubeConfig());
    await fast.sink.apply([write(sidecar('raced', [host('base')]))]);
    let raced = false;
    proxy.hook = async (req) => {
      // Just before the slow replica's first PUT lands, the other replica adds its host.
      if (req.method === 'PUT' && !raced) {
        raced = true;
        const r = await fast.sink.apply([write(sidecar('raced', [host('from-fast')]))]);
        assert.deepEqual(r.failed, []);
      }
      return undefined;
    };
    assert.deepEqual((await slow.sink.apply([write(sidecar('raced', [host('from-slow')]))])).failed, []);
    assert.ok(raced, 'the other replica wrote in between');
    assert.deepEqual(storedHosts(double, 'raced'), [host('base'), host('from-fast'), host('from-slow'), 'istio-system/*'].sort());
    assert.equal(await metricValue(slow.registry, 'discovery_kube_sidecar_conflicts_total'), 1);
    assert.deepEqual(
      proxy.seen.map((r) => r.method),
      ['GET', 'PUT', 'GET', 'PUT'],
      'read, stale write (409), fresh read, write',
    );
  } finally {
    await proxy.close();
  }
});

test('a POST that loses the create race (409 AlreadyExists) becomes a merge into the winner', async () => {
  const proxy = await KubeIntercept.start(double.kubeConfig());
  try {
    const slow = newSink(proxy.kubeConfig());
    const fast = newSink(double.kubeConfig());
    proxy.hook = async (req) => {
      if (req.method === 'POST') assert.deepEqual((await fast.sink.apply([write(sidecar('born-twice', [host('from-fast')]))])).failed, []);
      return undefined;
    };
    assert.deepEqual((await slow.sink.apply([write(sidecar('born-twice', [host('from-slow')]))])).failed, []);
    assert.deepEqual(storedHosts(double, 'born-twice'), [host('from-fast'), host('from-slow'), 'istio-system/*'].sort());
    assert.deepEqual(
      proxy.seen.map((r) => r.method),
      ['GET', 'POST', 'GET', 'PUT'],
    );
    assert.equal(await metricValue(slow.registry, 'discovery_kube_sidecar_conflicts_total'), 1);
  } finally {
    await proxy.close();
  }
});

test('removedHosts: exactly those hosts go; a host another replica added in the meantime stays', async () => {
  const { sink } = newSink(double.kubeConfig());
  const other = newSink(double.kubeConfig());
  await sink.apply([write(sidecar('expiring', [host('old'), host('kept')]))]);
  await other.sink.apply([write(sidecar('expiring', [host('added-elsewhere')]))]);
  // The Lease holder's write, computed from a view that had not seen the other replica's host yet.
  const r = await sink.apply([write(sidecar('expiring', [host('kept')], T0 + 60_000), [host('old')])]);
  assert.deepEqual(r.failed, []);
  assert.deepEqual(storedHosts(double, 'expiring'), [host('added-elsewhere'), host('kept'), 'istio-system/*'].sort());
  const records = parseHostRecords(stored(double, 'expiring')?.metadata.annotations?.[ANN_HOSTS]);
  assert.deepEqual([...records.keys()].sort(), [host('added-elsewhere'), host('kept')].sort());
  assert.equal(records.get(host('kept'))?.lastSeen, T0 + 60_000, 'newest lastSeen kept');
  assert.equal(records.get(host('kept'))?.writtenAt, T0, 'earliest writtenAt kept');
});

test('a batch runs at most `concurrency` writes at a time and reports each object', async () => {
  const proxy = await KubeIntercept.start(double.kubeConfig());
  try {
    const { sink } = newSink(proxy.kubeConfig(), { concurrency: 3 });
    proxy.hook = () => new Promise((resolve) => setTimeout(() => resolve(undefined), 5));
    const objects = Array.from({ length: 12 }, (_, i) => sidecar(`batch-${i}`, [host('reviews')]));
    const r = await sink.apply(objects.map((o) => write(o)));
    assert.deepEqual(r.failed, []);
    assert.deepEqual([...r.applied].sort(), objects.map((o) => `${NS}/${o.metadata.name}`).sort());
    assert.ok(proxy.maxInFlight <= 3, `at most 3 requests at once, saw ${proxy.maxInFlight}`);
    assert.ok(proxy.maxInFlight >= 2, 'writes do run side by side');
  } finally {
    await proxy.close();
  }
});
