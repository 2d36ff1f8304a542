// The converters take both shapes @kubernetes/client-node delivers: plain JSON (a WATCH event) and
// the models its LIST calls deserialize into (Date timestamps, class instances). Both must give
// the same slim values, so a live source can feed either without caring which it got.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1EndpointSliceList, V1NamespaceList, V1PodList, V1ServiceList } from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { convertEndpointSlice, convertPod, convertService, convertSidecar, isSupportedKind, namespaceName } from '../../src/sources/kubernetes/convert.ts';
import { ShapeError } from '../../src/sources/shape.ts';

const CREATED = '2024-05-01T10:00:00Z';

const podJson = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'reviews-v1-7d9f8c6b5-abcde',
    namespace: 'bookinfo',
    uid: '0d4c1c2e-1111-2222-3333-444455556666',
    creationTimestamp: CREATED,
    labels: { app: 'reviews', 'pod-template-hash': '7d9f8c6b5' },
    annotations: { 'sidecar.istio.io/status': '{}' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'reviews-v1-7d9f8c6b5', uid: 'u', controller: true, blockOwnerDeletion: true }],
  },
  spec: { containers: [{ name: 'reviews', image: 'reviews:1' }, { name: 'istio-proxy', image: 'proxyv2' }] },
  status: {
    phase: 'Running',
    startTime: '2024-05-01T10:00:02Z',
    podIP: '10.244.0.5',
    podIPs: [{ ip: '10.244.0.5' }, { ip: 'fd00::5' }],
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: '2024-05-01T10:00:00Z' },
      { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:09Z' },
    ],
  },
};

const serviceJson = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'payments-v2', namespace: 'pay', creationTimestamp: CREATED, annotations: { 'consul.hashicorp.com/service-name': 'payments' } },
  spec: {
    type: 'ClusterIP',
    clusterIP: '10.96.0.11',
    clusterIPs: ['10.96.0.11'],
    ports: [
      { name: 'https', port: 8443, protocol: 'TCP', targetPort: 'https' },
      { port: 9090, targetPort: 9090 },
    ],
  },
};

const sliceJson = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'reviews-abc', namespace: 'bookinfo', creationTimestamp: CREATED, labels: { 'kubernetes.io/service-name': 'reviews' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['10.244.0.5'], conditions: { ready: true, serving: true }, targetRef: { kind: 'Pod', name: 'reviews-1', namespace: 'bookinfo', uid: 'u1' } },
    { addresses: ['10.244.0.6'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'reviews-2' } },
    { addresses: ['10.0.0.9'] },
  ],
  ports: [{ name: 'http', port: 9080, protocol: 'TCP' }],
};

const sidecarJson = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Sidecar',
  metadata: { name: 'productpage', namespace: 'bookinfo', creationTimestamp: CREATED, labels: { 'app.kubernetes.io/managed-by': 'discovery' } },
  spec: { workloadSelector: { labels: { app: 'productpage' } }, egress: [{ hosts: ['istio-system/*', './*'] }] },
};

/** What a LIST gives: the typed list deserialized into client-node's models (items carry no apiVersion/kind). */
function listed<T>(json: object, listType: string): T {
  const { apiVersion, kind, ...item } = json as { apiVersion: string; kind: string };
  return ObjectSerializer.deserialize({ apiVersion, kind: `${kind}List`, metadata: {}, items: [item] }, listType) as T;
}

test('the LIST form really carries Date timestamps (so the comparisons below mean something)', () => {
  const pod = listed<V1PodList>(podJson, 'V1PodList').items[0]!;
  assert.ok(pod.metadata?.creationTimestamp instanceof Date);
  assert.ok(pod.status?.conditions?.[1]?.lastTransitionTime instanceof Date);
  assert.equal(pod.constructor.name, 'V1Pod');
});

test('Pod: the LIST model and the WATCH JSON convert to the same PodInfo', () => {
  const fromModel = convertPod(listed<V1PodList>(podJson, 'V1PodList').items[0]!);
  const fromJson = convertPod(podJson);
  assert.deepEqual(fromModel, fromJson);
  assert.deepEqual(fromJson, {
    namespace: 'bookinfo',
    name: 'reviews-v1-7d9f8c6b5-abcde',
    ips: ['10.244.0.5', 'fd00::5'],
    labels: { app: 'reviews', 'pod-template-hash': '7d9f8c6b5' },
    meshed: true,
    ready: true,
    workload: { namespace: 'bookinfo', kind: 'Deployment', name: 'reviews-v1' },
  });
});

test('Pod: a finished Pod is null in both forms', () => {
  const finished = { ...podJson, status: { ...podJson.status, phase: 'Succeeded' } };
  assert.equal(convertPod(finished), null);
  assert.equal(convertPod(listed<V1PodList>(finished, 'V1PodList').items[0]!), null);
});

test('Service: the LIST model and the WATCH JSON convert to the same KubeServiceInfo', () => {
  const fromModel = convertService(listed<V1ServiceList>(serviceJson, 'V1ServiceList').items[0]!);
  const fromJson = convertService(serviceJson);
  assert.deepEqual(fromModel, fromJson);
  assert.deepEqual(fromJson, {
    namespace: 'pay',
    name: 'payments-v2',
    consulName: 'payments',
    clusterIP: '10.96.0.11',
    ports: [
      { name: 'https', port: 8443, protocol: 'TCP' },
      { name: '', port: 9090, protocol: 'TCP' },
    ],
  });
});

test('EndpointSlice: the LIST model and the WATCH JSON convert to the same EndpointSliceInfo', () => {
  const fromModel = convertEndpointSlice(listed<V1EndpointSliceList>(sliceJson, 'V1EndpointSliceList').items[0]!);
  const fromJson = convertEndpointSlice(sliceJson);
  assert.deepEqual(fromModel, fromJson);
  assert.deepEqual(fromJson?.endpoints, [
    { addresses: ['10.244.0.5'], ready: true, podKey: 'bookinfo/reviews-1' },
    { addresses: ['10.244.0.6'], ready: false, podKey: 'bookinfo/reviews-2' },
    { addresses: ['10.0.0.9'], ready: true, podKey: null },
  ]);
  const unlabelled = { ...sliceJson, metadata: { name: 'custom', namespace: 'bookinfo' } };
  assert.equal(convertEndpointSlice(unlabelled), null);
  assert.equal(convertEndpointSlice(listed<V1EndpointSliceList>(unlabelled, 'V1EndpointSliceList').items[0]!), null);
});

test('Namespace: the name, from either form', () => {
  const json = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookinfo', creationTimestamp: CREATED } };
  assert.equal(namespaceName(json), 'bookinfo');
  assert.equal(namespaceName(listed<V1NamespaceList>(json, 'V1NamespaceList').items[0]!), 'bookinfo');
});

test('Sidecar: a Date creationTimestamp becomes the string Kubernetes prints, whole seconds', () => {
  const model = ObjectSerializer.deserialize(sidecarJson, 'networking.istio.io/v1/Sidecar') as KubernetesObject;
  assert.ok(model.metadata?.creationTimestamp instanceof Date);
  const fromModel = convertSidecar(model, 'networking.istio.io/v1');
  const fromJson = convertSidecar(sidecarJson, 'networking.istio.io/v1');
  assert.equal(fromModel.creationTimestamp, CREATED);
  assert.deepEqual(fromModel, fromJson);
  assert.equal(fromJson.managed, true);

  const withMillis = { ...sidecarJson, metadata: { ...sidecarJson.metadata, creationTimestamp: new Date('2024-05-01T10:00:00.250Z') } };
  assert.equal(convertSidecar(withMillis, 'networking.istio.io/v1').creationTimestamp, CREATED);
  const invalid = { ...sidecarJson, metadata: { ...sidecarJson.metadata, creationTimestamp: new Date('not a time') } };
  assert.throws(() => convertSidecar(invalid, 'networking.istio.io/v1'), { name: 'ShapeError', message: 'metadata.creationTimestamp must be a valid time, got an invalid Date' });
});

test('fields left undefined (as client-node leaves them) are absent, not errors', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'a', labels: { app: 'web', gone: undefined }, annotations: undefined, ownerReferences: undefined, creationTimestamp: undefined },
    spec: { containers: [{ name: 'web', restartPolicy: undefined }], initContainers: undefined },
    status: { phase: undefined, podIP: '10.0.0.1', podIPs: undefined, conditions: undefined },
  };
  assert.deepEqual(convertPod(pod), { namespace: 'a', name: 'p', ips: ['10.0.0.1'], labels: { app: 'web' }, meshed: false, ready: false, workload: { namespace: 'a', kind: 'Pod', name: 'p' } });

  const service = { metadata: { name: 's', namespace: undefined, annotations: undefined }, spec: { type: undefined, clusterIP: undefined, clusterIPs: undefined, ports: [{ port: 80, name: undefined, protocol: undefined }] } };
  assert.deepEqual(convertService(service), { namespace: 'default', name: 's', consulName: 's', clusterIP: null, ports: [{ name: '', port: 80, protocol: 'TCP' }] });

  const slice = { metadata: { name: 'e', namespace: 'a', labels: { 'kubernetes.io/service-name': 's' } }, endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: undefined }, targetRef: undefined }] };
  assert.deepEqual(convertEndpointSlice(slice)?.endpoints, [{ addresses: ['10.0.0.1'], ready: true, podKey: null }]);
  assert.deepEqual(convertEndpointSlice({ metadata: { name: 'e', namespace: 'a', labels: undefined }, endpoints: undefined }), null);

  const sidecar = convertSidecar({ metadata: { name: 'x', namespace: 'a', creationTimestamp: undefined, labels: undefined }, spec: { workloadSelector: undefined, egress: undefined } }, 'networking.istio.io/v1');
  assert.equal(sidecar.creationTimestamp, '');
  assert.equal(sidecar.selector, null);
  assert.deepEqual(sidecar.egressHosts, []);
  assert.equal(sidecar.managed, false);
});

test('errors name the field path inside the object', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => convertService({ metadata: { name: 's', namespace: 'a' }, spec: { ports: [{ port: '80' }] } }), 'spec.ports[0].port must be an integer 1-65535, got the string "80"'],
    [() => convertPod({ metadata: { name: 'p', namespace: 'a' }, status: { podIPs: [{}] } }), 'status.podIPs[0].ip is required'],
    [() => convertPod({ metadata: { name: 'p', namespace: 'a', labels: { version: 2 } } }), 'metadata.labels.version must be a string, got number 2'],
    [() => convertEndpointSlice({ metadata: { name: 'e', namespace: 'a', labels: { 'kubernetes.io/service-name': 's' } }, endpoints: [{ conditions: { ready: 'yes' }, addresses: ['1.2.3.4'] }] }), 'endpoints[0].conditions.ready must be true or false, got the string "yes"'],
    [() => convertSidecar({ metadata: { name: 's', namespace: 'a' }, spec: { egress: [{ hosts: [1] }] } }, 'networking.istio.io/v1'), 'spec.egress[0].hosts[0] must be a string, got number 1'],
    [() => namespaceName({ kind: 'Namespace' }), 'metadata is required'],
  ];
  for (const [run, message] of cases) assert.throws(run, (err: unknown) => err instanceof ShapeError && err.message === message, message);
});

test('isSupportedKind: read kinds and versions, other kinds skipped, unknown versions refused', () => {
  assert.equal(isSupportedKind('v1', 'Pod'), true);
  assert.equal(isSupportedKind('discovery.k8s.io/v1beta1', 'EndpointSlice'), true);
  assert.equal(isSupportedKind('networking.istio.io/v1alpha3', 'Sidecar'), true);
  assert.equal(isSupportedKind('apps/v1', 'Deployment'), false);
  assert.throws(() => isSupportedKind('networking.istio.io/v2', 'Sidecar'), /apiVersion networking.istio.io\/v2 is not a supported version of Sidecar \(supported: networking.istio.io\/v1, networking.istio.io\/v1beta1, networking.istio.io\/v1alpha3\)/);
});
