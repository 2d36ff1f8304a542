import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKubeSnapshot } from '../../src/sources/kubernetes/snapshot-document.ts';
import { assertSnapshotError } from './helpers.ts';

const pod = (extra: string, meta = '') => `apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f8c6b5-abcde
  namespace: shop
  labels:
    app: web
    pod-template-hash: 7d9f8c6b5${meta}
${extra}`;

const running = `status:
  phase: Running
  podIP: 10.244.0.5
  conditions:
  - type: Ready
    status: "True"`;

test('an empty file, or only comments and separators, is a valid empty snapshot', () => {
  for (const text of ['', '# nothing yet\n', '---\n---\n']) {
    assert.deepEqual(parseKubeSnapshot(text, 'kube.yaml').snapshot, { namespaces: [], services: [], endpointSlices: [], pods: [], sidecars: [] });
  }
});

test('Pod: IPs, readiness, workload through the ReplicaSet owner, meshed by istio-proxy container', () => {
  const text = pod(`  ownerReferences:
  - apiVersion: apps/v1
    kind: ReplicaSet
    name: web-7d9f8c6b5
    controller: true
spec:
  containers:
  - name: web
  - name: istio-proxy
${running}`);
  const [p] = parseKubeSnapshot(text, 'kube.yaml').snapshot.pods;
  assert.deepEqual(p, {
    namespace: 'shop',
    name: 'web-7d9f8c6b5-abcde',
    ips: ['10.244.0.5'],
    labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5' },
    meshed: true,
    ready: true,
    workload: { namespace: 'shop', kind: 'Deployment', name: 'web' },
  });
});

test('Pod: podIPs win over podIP; native sidecar and the status annotation both mean meshed', () => {
  const native = pod(`spec:
  initContainers:
  - name: istio-proxy
    restartPolicy: Always
  containers:
  - name: web
status:
  podIP: 10.244.0.5
  podIPs:
  - ip: 10.244.0.5
  - ip: fd00::5`);
  const p = parseKubeSnapshot(native, 'k').snapshot.pods[0]!;
  assert.deepEqual(p.ips, ['10.244.0.5', 'fd00::5']);
  assert.equal(p.meshed, true);
  assert.equal(p.ready, false);
  assert.deepEqual(p.workload, { namespace: 'shop', kind: 'Pod', name: 'web-7d9f8c6b5-abcde' });

  const initOnly = pod(`spec:
  initContainers:
  - name: istio-proxy
  containers:
  - name: web`);
  assert.equal(parseKubeSnapshot(initOnly, 'k').snapshot.pods[0]!.meshed, false, 'an init container that exits is not a sidecar');

  const annotated = pod('spec:\n  containers:\n  - name: web', '\n  annotations:\n    sidecar.istio.io/status: "{}"');
  assert.equal(parseKubeSnapshot(annotated, 'k').snapshot.pods[0]!.meshed, true);
});

test('Pod workloads: StatefulSet, CronJob by label or by name, plain Job, ReplicaSet without hash, Node-owned', () => {
  const owned = (kind: string, name: string, labels = '') => `apiVersion: v1
kind: Pod
metadata:
  name: p-${kind.toLowerCase()}-${name}
  namespace: ns
  labels:
    x: y${labels}
  ownerReferences:
  - {apiVersion: v1, kind: ${kind}, name: ${name}, controller: true}
`;
  const text = [
    owned('StatefulSet', 'db'),
    owned('Job', 'report-28950120'),
    owned('Job', 'cleanup', '\n    batch.kubernetes.io/cronjob-name: nightly'),
    owned('Job', 'migrate-7'),
    owned('ReplicaSet', 'api-abc'),
    owned('Node', 'worker-1'),
  ].join('---\n');
  const byName = new Map(parseKubeSnapshot(text, 'k').snapshot.pods.map((p) => [p.name, p.workload]));
  assert.deepEqual(byName.get('p-statefulset-db'), { namespace: 'ns', kind: 'StatefulSet', name: 'db' });
  assert.deepEqual(byName.get('p-job-report-28950120'), { namespace: 'ns', kind: 'CronJob', name: 'report' });
  assert.deepEqual(byName.get('p-job-cleanup'), { namespace: 'ns', kind: 'CronJob', name: 'nightly' });
  assert.deepEqual(byName.get('p-job-migrate-7'), { namespace: 'ns', kind: 'Job', name: 'migrate-7' });
  assert.deepEqual(byName.get('p-replicaset-api-abc'), { namespace: 'ns', kind: 'ReplicaSet', name: 'api-abc' });
  assert.deepEqual(byName.get('p-node-worker-1'), { namespace: 'ns', kind: 'Pod', name: 'p-node-worker-1' });
});

test('finished Pods are skipped (their IPs are reused) and counted', () => {
  const { snapshot, ignored } = parseKubeSnapshot(pod('status:\n  phase: Succeeded\n  podIP: 10.244.0.9'), 'k');
  assert.equal(snapshot.pods.length, 0);
  assert.equal(ignored.get('v1 Pod (finished: Succeeded/Failed)'), 1);
});

test('Service: Consul name from the annotation; headless and ExternalName have no ClusterIP; ports', () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: payments-v2
    namespace: pay
    annotations:
      consul.hashicorp.com/service-name: payments
  spec:
    clusterIP: 10.96.0.11
    ports:
    - {name: https, port: 8443, protocol: TCP}
    - {port: 9090}
- apiVersion: v1
  kind: Service
  metadata: {name: db, namespace: pay}
  spec: {clusterIP: None, ports: [{port: 5432}]}
- apiVersion: v1
  kind: Service
  metadata: {name: ext, namespace: pay}
  spec: {type: ExternalName, externalName: example.com}
`;
  const services = parseKubeSnapshot(text, 'k').snapshot.services;
  assert.deepEqual(services.map((s) => [s.name, s.consulName, s.clusterIP]), [['db', 'db', null], ['ext', 'ext', null], ['payments-v2', 'payments', '10.96.0.11']]);
  assert.deepEqual(services[2]!.ports, [{ name: 'https', port: 8443, protocol: 'TCP' }, { name: '', port: 9090, protocol: 'TCP' }]);
});

test('EndpointSlice: service label, nil ready means ready, targetRef namespace defaults to the slice', () => {
  const text = `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-abc
  namespace: bookinfo
  labels:
    kubernetes.io/service-name: reviews
addressType: IPv4
endpoints:
- addresses: [10.244.0.5]
  targetRef: {kind: Pod, name: reviews-1}
- addresses: [10.244.0.6]
  conditions: {ready: false}
  targetRef: {kind: Pod, name: reviews-2, namespace: bookinfo}
- addresses: [10.0.0.9]
ports: [{name: http, port: 9080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: empty-xyz, namespace: bookinfo, labels: {kubernetes.io/service-name: empty}}
addressType: IPv4
endpoints: null
`;
  const slices = parseKubeSnapshot(text, 'k').snapshot.endpointSlices;
  assert.deepEqual(slices[1], {
    namespace: 'bookinfo',
    name: 'reviews-abc',
    serviceName: 'reviews',
    endpoints: [
      { addresses: ['10.244.0.5'], ready: true, podKey: 'bookinfo/reviews-1' },
      { addresses: ['10.244.0.6'], ready: false, podKey: 'bookinfo/reviews-2' },
      { addresses: ['10.0.0.9'], ready: true, podKey: null },
    ],
  });
  assert.deepEqual(slices[0]!.endpoints, []);
});

test('Sidecar (all three API versions), typed lists, namespaces from everything mentioned; unknown kinds counted', () => {
  const text = `apiVersion: networking.istio.io/v1alpha3
kind: SidecarList
items:
- metadata:
    name: productpage
    namespace: bookinfo
    creationTimestamp: "2026-01-01T00:00:00Z"
    labels: {app.kubernetes.io/managed-by: discovery}
  spec:
    workloadSelector: {labels: {app: productpage}}
    egress:
    - hosts: [istio-system/*, bookinfo/reviews.bookinfo.svc.cluster.local]
    - hosts: [istio-system/*, ./*]
- apiVersion: networking.istio.io/v1beta1
  kind: Sidecar
  metadata: {name: default, namespace: shop}
  spec:
    egress: [{hosts: ["./*"]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: empty-ns}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: other}
`;
  const { snapshot, ignored } = parseKubeSnapshot(text, 'k');
  const [a, b] = snapshot.sidecars;
  assert.deepEqual(a, {
    namespace: 'bookinfo',
    name: 'productpage',
    apiVersion: 'networking.istio.io/v1alpha3',
    labels: { 'app.kubernetes.io/managed-by': 'discovery' },
    annotations: {},
    creationTimestamp: '2026-01-01T00:00:00Z',
    selector: { app: 'productpage' },
    egressHosts: ['istio-system/*', 'bookinfo/reviews.bookinfo.svc.cluster.local', './*'],
    managed: true,
  });
  assert.equal(b!.selector, null);
  assert.equal(b!.managed, false);
  assert.equal(b!.creationTimestamp, '');
  assert.deepEqual(snapshot.namespaces, ['bookinfo', 'empty-ns', 'shop']);
  assert.deepEqual(Object.fromEntries(ignored), { 'apps/v1 Deployment': 1, 'v1 ConfigMap': 1 });
});

test('kubectl -o json output is accepted too', () => {
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }] });
  assert.deepEqual(parseKubeSnapshot(json, 'k').snapshot.namespaces, ['a']);
});

const bad: Array<[string, string, string[]]> = [
  ['bad YAML', 'apiVersion: v1\nkind: [Pod\n', ['kube.yaml: document 1 (line 1): not valid YAML']],
  ['a scalar document', 'just text\n', ['document 1 (line 1): must be a Kubernetes object', 'the string "just text"']],
  ['missing kind', 'apiVersion: v1\nmetadata: {name: x}\n', ['document 1 (line 1), object default/x: kind is required']],
  ['missing apiVersion', 'kind: Pod\nmetadata: {name: x}\n', ['apiVersion is required']],
  ['missing metadata', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\n', ['document 2 (line 4), Pod: metadata is required']],
  ['missing name', 'apiVersion: v1\nkind: Service\nmetadata: {namespace: a}\n', ['Service: metadata.name is required']],
  ['port as string', 'apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\nspec:\n  ports: [{port: "80"}]\n', ['document 1 (line 1), Service a/s: spec.ports[0].port must be an integer 1-65535']],
  ['label not a string', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: a\n  labels: {version: 2}\n', ['Pod a/p: metadata.labels.version must be a string, got number 2']],
  ['endpoint without addresses', 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, namespace: a, labels: {kubernetes.io/service-name: s}}\nendpoints: [{conditions: {ready: true}}]\n', ['EndpointSlice a/e: endpoints[0].addresses is required']],
  ['ready not a boolean', 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, namespace: a, labels: {kubernetes.io/service-name: s}}\nendpoints: [{addresses: [1.2.3.4], conditions: {ready: "yes"}}]\n', ['endpoints[0].conditions.ready must be true or false']],
  ['podIPs entry without ip', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nstatus: {podIPs: [{}]}\n', ['Pod a/p: status.podIPs[0].ip is required']],
  ['egress hosts not strings', 'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: a}\nspec: {egress: [{hosts: [1]}]}\n', ['Sidecar a/s: spec.egress[0].hosts[0] must be a string']],
  ['unsupported Sidecar version', 'apiVersion: networking.istio.io/v2\nkind: Sidecar\nmetadata: {name: s, namespace: a}\n', ['apiVersion networking.istio.io/v2 is not a supported version of Sidecar']],
  ['duplicate object', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\n', ['document 2', 'duplicate Pod a/p: also defined at document 1']],
  ['empty consul-name annotation', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: a\n  annotations: {consul.hashicorp.com/service-name: ""}\n', ['metadata.annotations.consul.hashicorp.com/service-name must not be empty']],
  ['list item not an object', 'apiVersion: v1\nkind: List\nitems: [3]\n', ['document 1 (line 1) item 0: must be a Kubernetes object']],
];

for (const [title, text, fragments] of bad) {
  test(`parseKubeSnapshot rejects ${title}`, () => {
    assertSnapshotError(() => parseKubeSnapshot(text, 'kube.yaml').snapshot, 'kube.yaml: ', ...fragments);
  });
}
