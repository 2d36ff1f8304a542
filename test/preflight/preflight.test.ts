// discovery preflight on test worlds built to pass or to contain one trap each: the clean live
// test world passes every check; each mesh trap is reported; a token without KV write, an RBAC
// denial, a missing Sidecar kind and a connection limit Discovery would exhaust are blockers.

import assert from 'node:assert/strict';
import test from 'node:test';
import { CALLER_TOKEN, HAPROXY, startDoubles } from '../live/live-harness.ts';
import { namespaceObject, podObject, serviceObject, sidecarObject } from '../sources/kube-live-fixtures.ts';
import { check, describe, preflightOn } from './preflight-fixtures.ts';

test('preflight: the clean live test world passes every check', async () => {
  const d = await startDoubles();
  try {
    const r = await preflightOn(d);
    assert.equal(r.ok, true, describe(r));
    assert.deepEqual(r.checks.filter((c) => c.status !== 'pass'), [], describe(r));
    for (const id of ['consul-reachable', 'consul-catalog-read', 'consul-health-read', 'consul-control-key-read', 'consul-control-key-write', 'consul-connection-limit', 'kube-rbac-pods', 'kube-rbac-sidecars', 'kube-rbac-leases', 'kube-sidecar-crd', 'mesh-registry-only', 'mesh-namespace-without-service', 'world-mapping', 'mesh-user-sidecar-default-hosts']) {
      assert.equal(check(r, id).status, 'pass', id);
    }
    const left = await fetch(`${d.consul.url}/v1/kv/discovery/control/preflight/?keys`, { headers: { 'x-consul-token': 'root-token' } });
    assert.equal(left.status, 404, `the probe key is deleted again: ${await left.text()}`);
  } finally {
    await d.close();
  }
});

test('preflight: REGISTRY_ONLY mesh-wide without a ServiceEntry for HAProxy is a blocker; a covering ServiceEntry clears it', async () => {
  const d = await startDoubles();
  try {
    d.kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' } });
    const r = await preflightOn(d);
    const c = check(r, 'mesh-registry-only');
    assert.equal(c.status, 'blocker', describe(r));
    assert.match(c.reason, /bookinfo\/productpage/);
    assert.match(c.reason, new RegExp(HAPROXY[0]!.replaceAll('.', '\\.')));
    assert.equal(r.ok, false);

    d.kube.create({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'haproxy', namespace: 'istio-system' }, spec: { hosts: ['haproxy.internal'], addresses: ['10.1.0.0/24'], ports: [{ number: 9080, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' } });
    const covered = await preflightOn(d);
    assert.equal(check(covered, 'mesh-registry-only').status, 'pass', describe(covered));
    assert.equal(covered.ok, true, describe(covered));
  } finally {
    await d.close();
  }
});

test('preflight: REGISTRY_ONLY with ServiceEntries that cannot be listed is a warning saying so, not a guess', async () => {
  const d = await startDoubles();
  try {
    d.kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' } });
    d.kube.faults.deny({ verb: 'list', group: 'networking.istio.io', resource: 'serviceentries' });
    const r = await preflightOn(d);
    assert.equal(check(r, 'mesh-registry-only').status, 'warn', describe(r));
    assert.match(check(r, 'mesh-registry-only').reason, /ServiceEntries could not be read/);
    assert.match(check(r, 'mesh-istio-config').reason, /ServiceEntries: HTTP 403/);
  } finally {
    await d.close();
  }
});

test('preflight: REGISTRY_ONLY set by the Sidecar that applies to a meshed workload is a blocker too', async () => {
  const d = await startDoubles();
  try {
    const sidecar = sidecarObject('bookinfo', 'productpage-strict', ['./*', 'istio-system/*'], { selector: { app: 'productpage' } }) as { spec: Record<string, unknown> };
    sidecar.spec['outboundTrafficPolicy'] = { mode: 'REGISTRY_ONLY' };
    d.kube.create(sidecar);
    const r = await preflightOn(d);
    assert.equal(check(r, 'mesh-registry-only').status, 'blocker', describe(r));
    assert.match(check(r, 'mesh-registry-only').reason, /1 meshed workload\(s\).*bookinfo\/productpage/);
  } finally {
    await d.close();
  }
});

test('preflight: a namespace with injected Pods and no Service is reported', async () => {
  const d = await startDoubles();
  try {
    d.kube.create(namespaceObject('batch'));
    d.kube.create(podObject('batch', 'nightly-5d8f7c9b6-aaa', '10.244.9.9', { meshed: true, deployment: 'nightly' }));
    const r = await preflightOn(d);
    const c = check(r, 'mesh-namespace-without-service');
    assert.equal(c.status, 'warn', describe(r));
    assert.match(c.reason, /batch/);
    assert.doesNotMatch(c.reason, /legacy/, 'a namespace without injected Pods is not named');
  } finally {
    await d.close();
  }
});

test('preflight: a Consul service claimed by two Services, and one with an ambiguous port, are reported from the world model', async () => {
  const d = await startDoubles();
  try {
    d.kube.create(serviceObject('legacy', 'reviews-copy', '10.96.0.99', [{ name: 'http', port: 9080 }], 'reviews'));
    d.kube.remove('v1', 'Service', 'bookinfo', 'details');
    d.kube.create(serviceObject('bookinfo', 'details', '10.96.0.11', [{ name: 'web', port: 8000 }, { name: 'admin', port: 8001 }]));
    const r = await preflightOn(d);
    const mapping = check(r, 'world-mapping-ambiguous');
    assert.equal(mapping.status, 'warn', describe(r));
    assert.match(mapping.reason, /bookinfo\/reviews.*legacy\/reviews-copy/);
    const port = check(r, 'world-port-ambiguous');
    assert.equal(port.status, 'warn');
    assert.match(port.reason, /^details: /);
    assert.equal(r.ok, true, 'HAProxy answers for them are safe: not a blocker');
  } finally {
    await d.close();
  }
});

test('preflight: a user Sidecar without istio-system/* is reported; Discovery\'s own Sidecars are not judged', async () => {
  const d = await startDoubles();
  try {
    d.kube.create(sidecarObject('bookinfo', 'narrow', ['./*'], { selector: { app: 'reviews' } }));
    d.kube.create(sidecarObject('bookinfo', 'productpage', ['bookinfo/reviews.bookinfo.svc.cluster.local'], { selector: { app: 'productpage' }, managed: true }));
    const r = await preflightOn(d);
    const c = check(r, 'mesh-user-sidecar-default-hosts');
    assert.equal(c.status, 'warn', describe(r));
    assert.match(c.reason, /bookinfo\/narrow \(lacks istio-system\/\*\)/);
    assert.doesNotMatch(c.reason, /bookinfo\/productpage/);
  } finally {
    await d.close();
  }
});

test('preflight: a token that may not write (or read) the control key is a blocker', async () => {
  const d = await startDoubles();
  try {
    const r = await preflightOn(d, {}, CALLER_TOKEN);
    assert.equal(check(r, 'consul-control-key-write').status, 'blocker', describe(r));
    assert.match(check(r, 'consul-control-key-write').fix ?? '', /key_prefix "discovery\/control" \{ policy = "write" \}/);
    assert.equal(check(r, 'consul-control-key-read').status, 'blocker');
    assert.equal(check(r, 'consul-catalog-read').status, 'pass', 'the same token reads the catalog');
    assert.equal(r.ok, false);
  } finally {
    await d.close();
  }
});

test('preflight: an unreachable Consul agent is a blocker, and the checks that need it are not tried', async () => {
  const d = await startDoubles();
  try {
    await d.consul.faults.down();
    const r = await preflightOn(d);
    assert.equal(check(r, 'consul-reachable').status, 'blocker', describe(r));
    assert.match(check(r, 'consul-reachable').reason, /cannot reach the Consul agent at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.equal(r.checks.some((c) => c.id === 'consul-control-key-write'), false);
    assert.equal(check(r, 'kube-sidecar-crd').status, 'pass', 'Kubernetes is still checked');
    assert.equal(check(r, 'mesh-traps').status, 'warn');
  } finally {
    await d.close();
  }
});

test('preflight: an RBAC denial of a verb live mode uses is a blocker naming the verb, and the mesh checks wait for it', async () => {
  const d = await startDoubles();
  try {
    d.kube.faults.deny({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'discovery' });
    d.kube.faults.deny({ verb: 'watch', group: '', resource: 'pods' });
    const r = await preflightOn(d);
    assert.equal(check(r, 'kube-rbac-leases').status, 'blocker', describe(r));
    assert.match(check(r, 'kube-rbac-leases').reason, /^update leases in namespace discovery denied/);
    assert.match(check(r, 'kube-rbac-pods').reason, /^watch pods in every namespace denied/);
    assert.equal(check(r, 'kube-rbac-services').status, 'pass');
    assert.equal(check(r, 'mesh-traps').status, 'warn');
    assert.equal(r.ok, false);
  } finally {
    await d.close();
  }
});

test('preflight: the Sidecar kind not served at networking.istio.io/v1 is a blocker', async () => {
  const d = await startDoubles();
  try {
    d.kube.faults.fail('always', 404, { pathPrefix: '/apis/networking.istio.io/v1', method: 'GET' });
    const r = await preflightOn(d);
    assert.equal(check(r, 'kube-sidecar-crd').status, 'blocker', describe(r));
    assert.equal(r.ok, false);
  } finally {
    await d.close();
  }
});

test('preflight: the agent\'s http_max_conns_per_client below what Discovery opens is a blocker; close to it a warning', async () => {
  const d = await startDoubles();
  try {
    const over = await preflightOn(d, { 'live.max-upstream-connections': '150', 'live.max-passthrough-blocking': '100' });
    assert.equal(check(over, 'consul-connection-limit').status, 'blocker', describe(over));
    assert.match(check(over, 'consul-connection-limit').reason, /is 200 but 150 own watches \+ 100 parked caller requests need 250/);
    // The defaults fill the stock limit exactly: 64 own + 128 blocking + 8 other passthrough = 200.
    const defaults = await preflightOn(d, {});
    assert.equal(check(defaults, 'consul-connection-limit').status, 'pass', describe(defaults));
    const close = await preflightOn(d, { 'live.max-passthrough-blocking': '130' });
    assert.equal(check(close, 'consul-connection-limit').status, 'warn', describe(close));
  } finally {
    await d.close();
  }
});
