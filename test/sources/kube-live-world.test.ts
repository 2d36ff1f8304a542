// The live source and a snapshot file agree: the KubeSnapshot delivered from the API server is the
// one parseKubeSnapshot reads from `kubectl get … -o yaml` of the same cluster, so the world built
// from either is the same (targets, callers, the Sidecar applied to each caller, problems).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseKubeSnapshot } from '../../src/sources/kubernetes/snapshot-document.ts';
import { buildWorld, type WorldOptions } from '../../src/world/world.ts';
import { KubeDouble } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { catalog } from '../support/world-fixtures.ts';
import { namespaceObject, podNames, podObject, serviceObject, sidecarObject, sliceObject, startSource } from './kube-live-fixtures.ts';

const OPTIONS: WorldOptions = { meshRule: 'any', clusterDomain: 'cluster.local', rootNamespace: 'istio-system' };

function seedCluster(double: KubeDouble): void {
  for (const ns of ['istio-system', 'shop', 'billing']) double.create(namespaceObject(ns));
  double.create(sidecarObject('istio-system', 'default', ['istio-system/*']));
  double.create(podObject('shop', 'web-1', '10.1.0.1', { deployment: 'web', labels: { app: 'web' } }));
  double.create(podObject('shop', 'web-2', '10.1.0.2', { deployment: 'web', labels: { app: 'web' }, ready: false }));
  double.create(podObject('shop', 'legacy-1', '10.1.0.3', { meshed: false, labels: { app: 'legacy' } }));
  double.create(podObject('shop', 'job-1', '10.1.0.4', { phase: 'Succeeded' }));
  double.create(serviceObject('shop', 'web', '10.96.0.10', [{ name: 'http', port: 8080 }], 'web-frontend'));
  double.create(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.1.0.1' }, { pod: 'web-2', ip: '10.1.0.2', ready: false }]));
  double.create(sidecarObject('shop', 'web', ['./*', 'billing/ledger.billing.svc.cluster.local'], { selector: { app: 'web' }, managed: true }));
  double.create(podObject('billing', 'ledger-1', '10.2.0.1', { deployment: 'ledger', labels: { app: 'ledger' } }));
  double.create(serviceObject('billing', 'ledger', '10.96.0.20', [{ name: 'grpc', port: 9090 }, { name: 'http', port: 8080 }]));
  double.create(sliceObject('billing', 'ledger', [{ pod: 'ledger-1', ip: '10.2.0.1' }]));
}

test('kube-live world: the delivered snapshot equals the kubectl YAML snapshot of the same cluster, and builds the same world', async () => {
  const double = await KubeDouble.start();
  const dir = await mkdtemp(join(tmpdir(), 'kube-live-world-'));
  seedCluster(double);
  console.log(Date.now() % 100000, 'seeded');
  const run = await startSource(double);
  try {
    await eventually(() => assert.equal(run.deliveries().length, 1), 'the first delivery');
    // Some objects arrive through the LIST, these through WATCH events.
    double.create(podObject('billing', 'ledger-2', '10.2.0.2', { deployment: 'ledger', labels: { app: 'ledger' } }));
    double.apply(sliceObject('billing', 'ledger', [{ pod: 'ledger-1', ip: '10.2.0.1' }, { pod: 'ledger-2', ip: '10.2.0.2' }]));
    double.apply(podObject('shop', 'web-2', '10.1.0.2', { deployment: 'web', labels: { app: 'web' } }));
    double.create(sidecarObject('billing', 'default', ['./*']));
    await eventually(() => {
      assert.ok(podNames(run.latest()).includes('billing/ledger-2'));
      assert.equal(run.latest().sidecars.length, 3);
      assert.equal(run.latest().pods.find((p) => p.name === 'web-2')?.ready, true);
      assert.equal(run.latest().endpointSlices.find((s) => s.serviceName === 'ledger')?.endpoints.length, 2);
    }, 'the watched changes').catch((e) => { console.log(Date.now() % 100000, 'openWatches', double.stats.openWatches(), JSON.stringify(run.source.status().detail)); throw e; });

    const kubeconfig = join(dir, 'kubeconfig');
    await double.writeKubeconfig(kubeconfig);
    const kinds = 'namespaces,services,endpointslices.discovery.k8s.io,pods,sidecars.networking.istio.io';
    const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, 'get', kinds, '--all-namespaces', '-o', 'yaml'], { timeout: 30_000 });
    const fromFile = parseKubeSnapshot(stdout, 'kubectl get -o yaml').snapshot;
    const live = run.latest();
    assert.deepEqual(live, fromFile);

    const consul = catalog([
      { service: 'web-frontend', node: 'haproxy-1', address: '192.168.0.1', port: 8080 },
      { service: 'ledger', node: 'haproxy-1', address: '192.168.0.1', port: 9090 },
      { service: 'billing-batch', node: 'haproxy-2', address: '192.168.0.2', port: 7000 },
    ]);
    const a = buildWorld(consul, live, OPTIONS);
    const b = buildWorld(consul, fromFile, OPTIONS);
    assert.deepEqual(a, b);
    // The world is a meaningful one, not two empty ones.
    assert.equal(a.targets.get('web-frontend')?.status, 'meshed');
    assert.equal(a.targets.get('ledger')?.status, 'meshed');
    assert.equal(a.targets.get('billing-batch')?.status, 'not-in-kubernetes');
    assert.equal(a.callers.get('10.1.0.1')?.sidecar.kind, 'managed');
    assert.equal(a.callers.get('10.2.0.1')?.sidecar.kind, 'user');
    assert.equal(a.callers.get('10.1.0.4'), undefined, 'a finished Pod is no caller');
  } finally {
    run.abort.abort();
    console.log(Date.now() % 100000, 'closing');
    await double.close();
    console.log(Date.now() % 100000, 'closed');
    await rm(dir, { recursive: true, force: true });
  }
});
