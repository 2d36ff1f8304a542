// The Kubernetes API double at the size of the live benchmark: 20,000 Pods, 2,000 Services and
// 2,000 EndpointSlices. Lists, selected lists, a full-state watch and an informer must all hold
// every object; the timings are reported as diagnostics only (never asserted).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, makeInformer } from '@kubernetes/client-node';
import { KubeDouble } from '../support/kube-double/index.ts';
import { eventually } from '../support/eventually.ts';

const PODS = 20_000;
const SERVICES = 2_000;
const NAMESPACES = 100;

let kube: KubeDouble;
const auth = { Authorization: 'Bearer test-token' };

function benchPod(i: number): object {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: `ns-${i % NAMESPACES}`, labels: { app: `app-${i % SERVICES}`, 'security.istio.io/tlsMode': 'istio' } },
    spec: { nodeName: `node-${i % 50}`, containers: [{ name: 'app', image: 'registry/app:1.2.3', ports: [{ containerPort: 8080, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

async function timed<T>(what: string, run: () => T | Promise<T>, report: (line: string) => void): Promise<T> {
  const start = performance.now();
  const result = await run();
  report(`${what}: ${(performance.now() - start).toFixed(0)} ms`);
  return result;
}

before(async () => {
  kube = await KubeDouble.start();
});

after(() => kube.close());

test('loads the benchmark world', async (t) => {
  await timed(`load ${PODS} Pods, ${SERVICES} Services, ${SERVICES} EndpointSlices`, () => {
    for (let n = 0; n < NAMESPACES; n++) kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${n}` } });
    for (let i = 0; i < PODS; i++) kube.create(benchPod(i));
    for (let i = 0; i < SERVICES; i++) {
      const namespace = `ns-${i % NAMESPACES}`;
      kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace }, spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, ports: [{ port: 80 }], selector: { app: `app-${i}` } } });
      kube.create({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: `svc-${i}-slice`, namespace, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
        addressType: 'IPv4', endpoints: [{ addresses: [`10.0.${i >> 8}.${i & 255}`], conditions: { ready: true } }], ports: [{ port: 8080 }],
      });
    }
  }, (line) => t.diagnostic(line));
  assert.equal(kube.resourceVersion, String(1 + NAMESPACES + PODS + 2 * SERVICES));
});

test('a LIST of 20,000 Pods returns them all, at the store resourceVersion', async (t) => {
  const body = await timed('raw LIST of every Pod (HTTP, read as text)', async () => (await fetch(`${kube.url}/api/v1/pods`, { headers: auth })).text(), (l) => t.diagnostic(l));
  t.diagnostic(`response size: ${(body.length / 1e6).toFixed(1)} MB`);
  const list = JSON.parse(body) as { metadata: { resourceVersion: string }; items: unknown[] };
  assert.equal(list.items.length, PODS);
  assert.equal(list.metadata.resourceVersion, kube.resourceVersion);
  const selected = await timed('LIST with a label selector', async () => (await fetch(`${kube.url}/api/v1/pods?labelSelector=app%3Dapp-7`, { headers: auth })).json() as Promise<{ items: unknown[] }>, (l) => t.diagnostic(l));
  assert.equal(selected.items.length, PODS / SERVICES);
  const page = (await (await fetch(`${kube.url}/api/v1/pods?limit=500`, { headers: auth })).json()) as { items: unknown[]; metadata: { remainingItemCount: number } };
  assert.equal(page.items.length, 500);
  assert.equal(page.metadata.remainingItemCount, PODS - 500);
});

test('a watch without resourceVersion sends one ADDED per Pod', async (t) => {
  const text = await timed('watch from the current state (1 s timeoutSeconds)', async () => (await fetch(`${kube.url}/api/v1/pods?watch=true&timeoutSeconds=1`, { headers: auth })).text(), (l) => t.diagnostic(l));
  const lines = text.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, PODS);
  assert.ok(lines.every((l) => l.startsWith('{"type":"ADDED"')));
});

test('an informer over 20,000 Pods syncs and then gets each update once', async (t) => {
  const kc = kube.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces());
  let adds = 0;
  let updates = 0;
  informer.on('add', () => (adds += 1));
  informer.on('update', () => (updates += 1));
  t.after(() => informer.stop());
  await timed('client-node informer start (LIST, deserialize, add events)', () => informer.start(), (l) => t.diagnostic(l));
  assert.equal(adds, PODS);
  await eventually(() => assert.equal(kube.stats.openWatches(), 1), 'the informer watch');
  const UPDATES = 2_000;
  await timed(`${UPDATES} Pod updates written and delivered to the informer`, async () => {
    for (let i = 0; i < UPDATES; i++) kube.apply({ ...benchPod(i), metadata: { ...(benchPod(i) as { metadata: object }).metadata, annotations: { round: '2' } } });
    await eventually(() => assert.equal(updates, UPDATES), 'every update delivered', { timeoutMs: 20_000 });
  }, (l) => t.diagnostic(l));
  t.diagnostic(`heap used: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
});
