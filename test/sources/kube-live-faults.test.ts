// The live Kubernetes source when the API server misbehaves: failing LISTs are retried with
// backoff, a dropped watch resumes from its resourceVersion, 410 Expired re-lists and drops what
// went away meanwhile, a silent watch is caught by the watchdog, and an outage longer than
// staleAfterMs is reported as stale once, then as current once after fresh data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeDouble } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { metricValue, namespaceObject, podNames, podObject, serviceObject, sidecarObject, sliceObject, startSource } from './kube-live-fixtures.ts';

const POD_LISTS = { pathPrefix: '/api/v1/pods', watch: false } as const;

function seed(double: KubeDouble, pods: string[] = ['web-1']): void {
  double.create(namespaceObject('shop'));
  pods.forEach((name, i) => double.create(podObject('shop', name, `10.1.0.${i + 1}`, { labels: { app: 'web' } })));
  double.create(serviceObject('shop', 'web', '10.96.0.10', [{ name: 'http', port: 8080 }]));
  double.create(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.1.0.1' }]));
  double.create(sidecarObject('shop', 'web-egress', ['./*']));
}

function kindDetail(status: ReturnType<Awaited<ReturnType<typeof startSource>>['source']['status']>, kind: string) {
  return (status.detail?.['kinds'] as Record<string, { restarts: number; lastError: string | null; following: boolean; synced: boolean }>)[kind]!;
}

test('kube-live faults: a LIST answered 5xx is retried with backoff until it succeeds', async () => {
  const double = await KubeDouble.start();
  seed(double);
  double.faults.fail(3, 503, POD_LISTS);
  const run = await startSource(double);
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    assert.equal(double.stats.requests(POD_LISTS), 4, 'three failures, then the LIST that worked');
    assert.deepEqual(podNames(run.latest()), ['shop/web-1']);
    const pod = kindDetail(run.source.status(), 'Pod');
    assert.equal(pod.restarts, 3);
    assert.equal(pod.lastError, null);
    assert.equal(await metricValue(run.registry, 'discovery_kube_watch_restarts_total', { kind: 'Pod', reason: 'error' }), 3);
    assert.equal(run.source.status().errors, 1, 'one outage, however many retries');
    const errors = run.calls.flatMap((c) => (c.kind === 'error' ? [c.message] : []));
    assert.equal(errors.length, 1, 'the listener hears of the outage once');
    assert.match(errors[0]!, /^Pod: LIST \/api\/v1\/pods: HTTP 503/);
    assert.deepEqual(run.stale(), []);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live faults: a dropped watch is opened again from its resourceVersion, without a new LIST', async () => {
  const double = await KubeDouble.start();
  seed(double);
  const run = await startSource(double);
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    await eventually(() => assert.equal(double.stats.openWatches(), 5), 'five open watches');
    const lists = double.stats.requests({ watch: false });
    double.faults.dropWatches();
    double.create(podObject('shop', 'web-2', '10.1.0.2'));
    await eventually(() => assert.deepEqual(podNames(run.latest()), ['shop/web-1', 'shop/web-2']), 'the Pod created while the watches were down');
    await eventually(() => assert.equal(double.stats.openWatches(), 5), 'five watches again');
    assert.equal(double.stats.requests({ watch: false }), lists, 'resumed, not re-listed');
    assert.ok((await metricValue(run.registry, 'discovery_kube_watch_restarts_total', { kind: 'Pod', reason: 'error' })) >= 1);
    await eventually(() => assert.equal(kindDetail(run.source.status(), 'Pod').following, true), 'following again');
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live faults: 410 Expired re-lists, and objects removed during the gap are removed', async () => {
  const double = await KubeDouble.start();
  seed(double, ['web-1', 'web-2']);
  const run = await startSource(double);
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    await eventually(() => assert.equal(double.stats.openWatches(), 5), 'five open watches');
    // The watches go silent; meanwhile a Pod goes, another comes, and the history is compacted.
    double.faults.stallWatches(true);
    double.remove('v1', 'Pod', 'shop', 'web-2');
    double.create(podObject('shop', 'web-3', '10.1.0.3'));
    double.faults.expire();
    double.faults.stallWatches(false);
    const podLists = double.stats.requests(POD_LISTS);
    double.faults.endWatches();
    await eventually(() => assert.deepEqual(podNames(run.latest()), ['shop/web-1', 'shop/web-3']), 'the Pods as they are after the gap');
    assert.ok(double.stats.requests(POD_LISTS) > podLists, 'the Pods were listed again');
    assert.ok((await metricValue(run.registry, 'discovery_kube_watch_restarts_total', { kind: 'Pod', reason: 'expired' })) >= 1);
    assert.equal(kindDetail(run.source.status(), 'Pod').restarts, 0, 'a re-list is not a failure');
    assert.deepEqual(run.stale(), []);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live faults: a watch answered with HTTP 410 re-lists', async () => {
  const double = await KubeDouble.start();
  seed(double);
  const run = await startSource(double);
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    await eventually(() => assert.equal(double.stats.openWatches(), 5), 'five open watches');
    const podLists = double.stats.requests(POD_LISTS);
    double.faults.fail(1, 410, { pathPrefix: '/api/v1/pods', watch: true });
    double.faults.endWatches();
    double.create(podObject('shop', 'web-2', '10.1.0.2'));
    await eventually(() => assert.deepEqual(podNames(run.latest()), ['shop/web-1', 'shop/web-2']), 'the new Pod');
    await eventually(() => assert.equal(double.stats.requests(POD_LISTS), podLists + 1), 'one more Pod LIST');
    assert.ok((await metricValue(run.registry, 'discovery_kube_watch_restarts_total', { kind: 'Pod', reason: 'expired' })) >= 1);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live faults: a silent watch is restarted by the watchdog and the change it hid arrives', async () => {
  const double = await KubeDouble.start({ bookmarkIntervalMs: 200 });
  seed(double);
  // timeoutSeconds 1: the server ends healthy watches every second; the watchdog allows 2 s of silence.
  const run = await startSource(double, { timeoutSeconds: 1 });
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    double.faults.stallWatches(true);
    double.create(podObject('shop', 'web-2', '10.1.0.2'));
    await eventually(
      async () => assert.ok((await metricValue(run.registry, 'discovery_kube_watch_restarts_total', { kind: 'Pod', reason: 'stall' })) >= 1),
      'the watchdog restarting the Pod watch',
      { timeoutMs: 10_000 },
    );
    assert.match(String(kindDetail(run.source.status(), 'Pod').lastError), /no answer and no event for \d/);
    assert.ok(!podNames(run.latest()).includes('shop/web-2'), 'the stalled watch hid the Pod');
    double.faults.stallWatches(false);
    await eventually(() => assert.deepEqual(podNames(run.latest()), ['shop/web-1', 'shop/web-2']), 'the hidden Pod after the restart', { timeoutMs: 10_000 });
    await eventually(() => assert.equal(kindDetail(run.source.status(), 'Pod').following, true), 'following again');
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live faults: the API down past staleAfterMs is stale once; after recovery fresh data comes first, then current once', async () => {
  const double = await KubeDouble.start();
  seed(double, ['web-1', 'web-2']);
  const run = await startSource(double, { staleAfterMs: 1000, backoff: { initialMs: 50, maxMs: 200 } });
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    await eventually(() => assert.equal(double.stats.openWatches(), 5), 'five open watches');
    await double.faults.down();
    double.remove('v1', 'Pod', 'shop', 'web-2');
    double.create(podObject('shop', 'web-3', '10.1.0.3'));
    await eventually(() => assert.deepEqual(run.stale(), [true]), 'stale after staleAfterMs', { timeoutMs: 10_000 });
    assert.equal(await metricValue(run.registry, 'discovery_kube_stale'), 1);
    const status = run.source.status();
    assert.equal(status.detail?.['stale'], true);
    assert.match(String(status.lastError), /ECONNREFUSED/);
    assert.deepEqual(podNames(run.latest()), ['shop/web-1', 'shop/web-2'], 'the last good data stays');

    await double.faults.up();
    await eventually(() => assert.deepEqual(run.stale(), [true, false]), 'current again', { timeoutMs: 10_000 });
    assert.equal(await metricValue(run.registry, 'discovery_kube_stale'), 0);
    // The snapshot in effect when the source says it is current again is the cluster as it is now.
    const recovered = run.calls.findIndex((c) => c.kind === 'stale' && !c.stale);
    const before = run.calls.slice(0, recovered).flatMap((c) => (c.kind === 'data' ? [c.snapshot] : []));
    assert.deepEqual(podNames(before[before.length - 1]!), ['shop/web-1', 'shop/web-3']);
    assert.equal(run.source.status().lastError, null);
    assert.equal(run.source.status().detail?.['stale'], false);
  } finally {
    run.abort.abort();
    await double.close();
  }
});
