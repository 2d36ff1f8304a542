// The live Kubernetes source against the Kubernetes API double, through the real client-node
// informers: nothing is delivered until all five kinds have listed, objects arrive in their slim
// form, bursts are coalesced, and an abort leaves nothing running.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeDouble } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { ROOT } from '../support/process.ts';
import { metricValue, namespaceObject, podNames, podObject, serviceObject, sidecarObject, sliceObject, startSource } from './kube-live-fixtures.ts';

function seed(double: KubeDouble): void {
  double.create(namespaceObject('shop'));
  double.create(podObject('shop', 'web-1', '10.1.0.1', { deployment: 'web', labels: { app: 'web' } }));
  double.create(serviceObject('shop', 'web', '10.96.0.10', [{ name: 'http', port: 8080 }]));
  double.create(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.1.0.1' }]));
  double.create(sidecarObject('shop', 'web-egress', ['./*'], { selector: { app: 'web' } }));
}

test('kube-live: nothing is delivered until every kind has listed; status names the kind still missing and why', async () => {
  const double = await KubeDouble.start();
  seed(double);
  double.faults.fail('always', 500, { pathPrefix: '/apis/networking.istio.io/', watch: false });
  const run = await startSource(double);
  try {
    await eventually(() => {
      const st = run.source.status();
      const kinds = st.detail?.['kinds'] as Record<string, { synced: boolean; lastError: string | null }>;
      for (const kind of ['Namespace', 'Service', 'EndpointSlice', 'Pod']) assert.equal(kinds[kind]?.synced, true, kind);
      assert.equal(kinds['Sidecar']?.synced, false);
      assert.match(String(kinds['Sidecar']?.lastError), /LIST \/apis\/networking\.istio\.io\/v1\/sidecars: HTTP 500/);
      assert.ok(double.stats.requests({ pathPrefix: '/apis/networking.istio.io/', watch: false }) >= 3, 'the failing LIST is retried');
    }, 'four kinds synced and the Sidecar LIST retried');
    const st = run.source.status();
    assert.equal(st.synced, false);
    assert.equal(st.version, null);
    assert.equal(st.loads, 0);
    assert.match(String(st.lastError), /^Sidecar: LIST .*HTTP 500/);
    assert.deepEqual((st.detail?.['notSynced'] as string[]).map((s) => s.split(' ')[0]), ['Sidecar']);
    assert.deepEqual(run.calls.map((c) => c.kind), ['error'], 'the Sidecar outage, and no snapshot before every kind listed');

    double.faults.fail(0);
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    assert.equal(run.calls.filter((c) => c.kind === 'error').length, 1, 'one outage, however many retries');
    const first = run.latest();
    assert.deepEqual(first.namespaces, ['shop']);
    assert.deepEqual(podNames(first), ['shop/web-1']);
    assert.deepEqual(first.services.map((s) => s.name), ['web']);
    assert.deepEqual(first.endpointSlices.map((s) => s.serviceName), ['web']);
    assert.deepEqual(first.sidecars.map((s) => s.name), ['web-egress']);
    const synced = run.source.status();
    assert.equal(synced.synced, true);
    assert.equal(synced.lastError, null);
    assert.match(String(synced.version), /^Namespace=\d+,Service=\d+,EndpointSlice=\d+,Pod=\d+,Sidecar=\d+$/);
    assert.deepEqual(synced.detail?.['notSynced'], []);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live: watches carry timeoutSeconds and bookmarks, LISTs are paged, and only the slim projection is delivered', async () => {
  const double = await KubeDouble.start();
  seed(double);
  for (let i = 2; i <= 5; i++) double.create(podObject('shop', `web-${i}`, `10.1.0.${i}`, { deployment: 'web', labels: { app: 'web' } }));
  const run = await startSource(double, { pageSize: 2, timeoutSeconds: 7 });
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    // Five Pods in pages of two: three LIST requests, the later ones with a continue token.
    const podLists = double.stats.log().filter((e) => e.path === '/api/v1/pods' && e.query['watch'] === undefined);
    assert.equal(podLists.length, 3);
    assert.ok(podLists.every((e) => e.query['limit'] === '2'));
    assert.equal(podLists.filter((e) => e.query['continue'] !== undefined).length, 2);
    const watches = await eventually(() => {
      const all = double.stats.log().filter((e) => e.query['watch'] === 'true');
      assert.deepEqual([...new Set(all.map((e) => e.path))].sort(), ['/api/v1/namespaces', '/api/v1/pods', '/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/apis/networking.istio.io/v1/sidecars']);
      return all;
    }, 'a watch on every kind');
    for (const w of watches) {
      assert.equal(w.query['timeoutSeconds'], '7');
      assert.equal(w.query['allowWatchBookmarks'], 'true');
      assert.match(String(w.query['resourceVersion']), /^\d+$/);
    }

    // The same Pod seen through a WATCH event converts exactly as the listed one did.
    double.create(podObject('shop', 'web-6', '10.1.0.6', { deployment: 'web', labels: { app: 'web' } }));
    await eventually(() => assert.ok(podNames(run.latest()).includes('shop/web-6')), 'the watched Pod');
    const pods = run.latest().pods;
    const listed = pods.find((p) => p.name === 'web-1')!;
    const watched = pods.find((p) => p.name === 'web-6')!;
    assert.deepEqual({ ...watched, name: 'web-1', ips: ['10.1.0.1'] }, listed);
    assert.deepEqual(listed, { namespace: 'shop', name: 'web-1', ips: ['10.1.0.1'], labels: { app: 'web', 'pod-template-hash': '5d8f7c9b6' }, meshed: true, ready: true, workload: { namespace: 'shop', kind: 'Deployment', name: 'web' } });
    const text = JSON.stringify(run.latest());
    for (const heavy of ['managedFields', 'ownerReferences', 'containers', 'podIPs', 'resourceVersion', 'uid']) assert.ok(!text.includes(heavy), `${heavy} is not delivered`);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live: adds, updates and deletes of every kind reach the snapshot; a finished Pod is left out', async () => {
  const double = await KubeDouble.start();
  seed(double);
  const run = await startSource(double);
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    double.create(namespaceObject('billing'));
    double.create(serviceObject('billing', 'ledger', '10.96.0.20', [{ port: 9090 }], 'ledger-api'));
    double.create(sliceObject('billing', 'ledger', [{ pod: 'ledger-1', ip: '10.2.0.1', ready: false }]));
    double.create(podObject('billing', 'ledger-1', '10.2.0.1', { ready: false, meshed: false }));
    double.create(sidecarObject('billing', 'default', ['istio-system/*'], { managed: true }));
    double.apply(podObject('shop', 'web-1', '10.1.0.1', { deployment: 'web', labels: { app: 'web' }, ready: false }));
    double.create(podObject('shop', 'batch-1', '10.1.0.9', { phase: 'Succeeded' }));
    await eventually(() => {
      const s = run.latest();
      assert.deepEqual(s.namespaces, ['billing', 'shop']);
      assert.deepEqual(s.services.map((x) => `${x.namespace}/${x.name}=${x.consulName}@${x.clusterIP}`), ['billing/ledger=ledger-api@10.96.0.20', 'shop/web=web@10.96.0.10']);
      assert.deepEqual(s.endpointSlices.map((x) => `${x.namespace}/${x.serviceName}:${x.endpoints.map((e) => `${e.podKey}=${e.ready}`).join()}`), ['billing/ledger:billing/ledger-1=false', 'shop/web:shop/web-1=true']);
      assert.deepEqual(s.pods.map((p) => `${p.namespace}/${p.name} ready=${p.ready} meshed=${p.meshed}`), ['billing/ledger-1 ready=false meshed=false', 'shop/web-1 ready=false meshed=true']);
      assert.deepEqual(s.sidecars.map((x) => `${x.namespace}/${x.name} managed=${x.managed}`), ['billing/default managed=true', 'shop/web-egress managed=false']);
    }, 'every change in the snapshot');

    double.remove('v1', 'Pod', 'billing', 'ledger-1');
    double.remove('networking.istio.io/v1', 'Sidecar', 'shop', 'web-egress');
    double.remove('v1', 'Service', 'billing', 'ledger');
    await eventually(() => {
      const s = run.latest();
      assert.deepEqual(podNames(s), ['shop/web-1']);
      assert.deepEqual(s.sidecars.map((x) => x.name), ['default']);
      assert.deepEqual(s.services.map((x) => x.name), ['web']);
    }, 'the deletes in the snapshot');
    assert.equal(await metricValue(run.registry, 'discovery_kube_objects', { kind: 'Pod' }), 1);
    assert.ok((await metricValue(run.registry, 'discovery_kube_events_total', { kind: 'Pod', type: 'DELETED' })) >= 1);
    assert.ok((await metricValue(run.registry, 'discovery_kube_events_total', { kind: 'Pod', type: 'MODIFIED' })) >= 1);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live: a rollout of 1,000 Pods is delivered a few times, not 1,000', async () => {
  const double = await KubeDouble.start();
  seed(double);
  const run = await startSource(double, { deliverEveryMs: 100 });
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    for (let i = 0; i < 1000; i++) double.create(podObject('shop', `rollout-${i}`, `10.3.${i >> 8}.${i & 255}`, { deployment: 'rollout', labels: { app: 'rollout' } }));
    await eventually(() => assert.equal(run.latest().pods.length, 1001), 'every Pod of the rollout delivered', { timeoutMs: 30_000 });
    assert.equal(await metricValue(run.registry, 'discovery_kube_events_total', { kind: 'Pod', type: 'ADDED' }), 1000);
    const deliveries = run.deliveries().length - 1;
    assert.ok(deliveries >= 1 && deliveries <= 20, `1,000 events became ${deliveries} deliveries`);
    // Kinds that did not change keep their arrays: nothing is rebuilt for them.
    const all = run.deliveries();
    assert.equal(all[all.length - 1]!.sidecars, all[0]!.sidecars);
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live: after an abort no listener call happens, every watch is closed and nothing is requested again', async () => {
  const double = await KubeDouble.start({ bookmarkIntervalMs: 50 });
  seed(double);
  const run = await startSource(double, { timeoutSeconds: 1 });
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    await eventually(() => assert.equal(double.stats.openWatches(), 5), 'five open watches');
    run.abort.abort();
    const calls = run.calls.length;
    await eventually(() => assert.equal(double.stats.openWatches(), 0), 'every watch closed');
    const requests = double.stats.requests();
    double.create(podObject('shop', 'late', '10.1.0.99'));
    double.faults.endWatches();
    // Longer than a watch timeout and several backoff steps: a leftover watch would have come back.
    await sleep(1500);
    assert.equal(run.calls.length, calls, 'no listener call after the abort');
    assert.equal(double.stats.requests(), requests, 'no request after the abort');
  } finally {
    run.abort.abort();
    await double.close();
  }
});

test('kube-live: an abort while the first LISTs are in flight opens no watch and delivers nothing', async () => {
  const double = await KubeDouble.start();
  seed(double);
  const run = await startSource(double);
  run.abort.abort();
  try {
    await sleep(500);
    assert.equal(double.stats.requests({ watch: true }), 0, 'no watch opened after the abort');
    assert.equal(run.calls.length, 0);
    assert.equal(run.source.status().synced, false);
  } finally {
    await double.close();
  }
});

test('kube-live: a process whose source was aborted exits on its own while the API server is still up', async () => {
  const double = await KubeDouble.start();
  seed(double);
  try {
    const script = `
      const { KubeLiveSource } = await import('./src/sources/kube-live/index.ts');
      const { KubeConfig } = await import('@kubernetes/client-node');
      const { Registry } = await import('prom-client');
      const { systemClock } = await import('./src/platform/clock.ts');
      const { createLogger } = await import('./src/platform/log.ts');
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'c', server: process.env.KUBE_URL, skipTLSVerify: true }], users: [{ name: 'u', token: 'test-token' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
      const source = new KubeLiveSource({ kubeConfig: kc, clock: systemClock, log: createLogger('silent'), registry: new Registry(), timeoutSeconds: 300 });
      const abort = new AbortController();
      await new Promise((resolve) => source.start({ data: resolve, error: () => {}, stale: () => {} }, abort.signal));
      abort.abort();
      console.log('delivered and aborted');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, KUBE_URL: double.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the aborted process did not exit: something is left running\n${out}`));
      }, 30_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, out);
    assert.match(out, /delivered and aborted/);
    assert.equal(double.stats.openWatches(), 0);
  } finally {
    await double.close();
  }
});
