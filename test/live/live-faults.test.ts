// Live mode under upstream faults, through a replica built as `discovery serve` builds it. Each
// test asserts the invariant the behaviour protects (docs/invariants.md): the last good catalog
// keeps being served and says it is stale (fail static), X-Consul-Index never goes backwards, a
// ClusterIP is handed out only while the caller's Sidecar in the cluster lists the host, HAProxy
// whenever Kubernetes cannot be followed, and a host still looked up is never lost.

import assert from 'node:assert/strict';
import test from 'node:test';
import { eventually } from '../support/eventually.ts';
import { serviceObject, sidecarObject } from '../sources/kube-live-fixtures.ts';
import { HAPROXY, MESHED_CALLER, REVIEWS_CLUSTER_IP, UNMESHED_CALLER, addressesOf, request, startDoubles, startReplica, type HttpAnswer, type Replica } from './live-harness.ts';

/** Recovery waits for the upstream client's backoff (1 s doubling, jittered, up to 30 s). */
const SLOW = { timeoutMs: 40_000, intervalMs: 100 };
const SIDECAR = ['networking.istio.io/v1', 'Sidecar', 'bookinfo', 'productpage'] as const;
const REVIEWS_HOST = 'bookinfo/reviews.bookinfo.svc.cluster.local';

function egressHosts(obj: object | null): string[] {
  const spec = (obj as { spec?: { egress?: Array<{ hosts?: string[] }> } } | null)?.spec;
  return [...(spec?.egress?.[0]?.hosts ?? [])].sort();
}

/** Every answer a test saw for one caller and service, to check the index never went backwards. */
class Answers {
  readonly seen: number[] = [];
  readonly replica: Replica;
  readonly from: string;
  readonly service: string;

  constructor(replica: Replica, from: string, service = 'reviews') {
    this.replica = replica;
    this.from = from;
    this.service = service;
  }

  async get(): Promise<HttpAnswer> {
    const a = await request(this.replica.httpUrl(), `/v1/health/service/${this.service}`, { from: this.from });
    assert.equal(a.status, 200, a.body);
    const index = Number(a.headers['x-consul-index']);
    const last = this.seen.at(-1) ?? 0;
    assert.ok(index >= last, `X-Consul-Index went backwards: ${last} then ${index}`);
    this.seen.push(index);
    return a;
  }

  async addresses(): Promise<string[]> {
    return addressesOf(await this.get());
  }
}

async function ready(r: Replica): Promise<void> {
  await eventually(async () => assert.equal((await request(r.adminUrl(), '/readyz')).status, 200, `${r.name} is not ready`), `${r.name} to be ready`);
}

test('live faults: Consul down, 5xx and an index reset: the last good catalog is served and says so, recovery by itself, the index never goes backwards', async () => {
  const d = await startDoubles();
  const r = await startReplica(d, 'replica-a');
  try {
    await ready(r);
    const answers = new Answers(r, UNMESHED_CALLER);
    assert.deepEqual(await answers.addresses(), HAPROXY);

    await d.consul.faults.down();
    await eventually(async () => assert.equal((await answers.get()).headers['x-consul-knownleader'], 'false', 'stale answers say so'), 'the outage to show in answers', SLOW);
    const during = await answers.get();
    assert.deepEqual(addressesOf(during), HAPROXY, 'the last good catalog is still served');
    const contact1 = Number(during.headers['x-consul-lastcontact']);
    await eventually(async () => assert.ok(Number((await answers.get()).headers['x-consul-lastcontact']) > contact1, 'LastContact grows during the outage'), 'LastContact to grow');
    assert.match(r.logs.join('\n'), /unreachable|cannot follow/i, 'one log line says the upstream is out of reach');

    await d.consul.faults.up();
    await eventually(async () => assert.equal((await answers.get()).headers['x-consul-knownleader'], 'true', 'in contact again'), 'recovery after the outage', SLOW);
    d.consul.deregister({ Node: 'haproxy-2', ServiceID: 'reviews-2' });
    await eventually(async () => assert.deepEqual(await answers.addresses(), ['10.1.0.1'], 'the change after recovery arrives'), 'a change after recovery', SLOW);

    d.consul.faults.fail('always', 500);
    await eventually(async () => assert.equal((await answers.get()).headers['x-consul-knownleader'], 'false', '5xx counts as out of contact'), '5xx to show in answers', SLOW);
    assert.deepEqual(await answers.addresses(), ['10.1.0.1'], 'the last good catalog, not a partial one');
    d.consul.faults.fail(0);
    await eventually(async () => assert.equal((await answers.get()).headers['x-consul-knownleader'], 'true', 'in contact again after 5xx'), 'recovery after 5xx', SLOW);

    // A snapshot restore upstream: every index drops. Later changes still arrive.
    d.consul.faults.resetIndex(1);
    d.consul.register({ Node: 'haproxy-3', Address: '10.1.0.3', Service: { ID: 'reviews-3', Service: 'reviews', Port: 9080 }, Checks: [{ CheckID: 'service:reviews-3', Name: 'haproxy frontend', Status: 'passing', ServiceID: 'reviews-3' }] });
    await eventually(async () => assert.deepEqual(await answers.addresses(), ['10.1.0.1', '10.1.0.3'], 'a change after the index reset arrives'), 'a change after the index reset', SLOW);
    assert.ok(answers.seen.length > 5, 'many answers were checked');
  } finally {
    await r.stop();
    await d.close();
  }
});

test('live faults: Kubernetes watches dropped, 410 and the API down past kube-stale-after: changes in the gap arrive, HAProxy while stale, mesh again after', async () => {
  const d = await startDoubles();
  const r = await startReplica(d, 'replica-a', { 'kube-stale-after': '1s' });
  try {
    await ready(r);
    const meshed = new Answers(r, MESHED_CALLER);
    await meshed.get();
    await eventually(async () => assert.deepEqual(await meshed.addresses(), [REVIEWS_CLUSTER_IP], 'mesh answer'), 'the gate to open');

    // Dropped watches: a change made while no watch is open still arrives.
    d.kube.faults.dropWatches();
    d.kube.apply(serviceObject('bookinfo', 'reviews', '10.96.0.99', [{ name: 'http', port: 9080 }]));
    await eventually(async () => assert.deepEqual(await meshed.addresses(), ['10.96.0.99'], 'the new ClusterIP'), 'a change across dropped watches');

    // History compacted (410 Gone on resume): a relist brings the change made in the gap.
    d.kube.faults.expire();
    d.kube.faults.dropWatches();
    d.kube.apply(serviceObject('bookinfo', 'reviews', REVIEWS_CLUSTER_IP, [{ name: 'http', port: 9080 }]));
    await eventually(async () => assert.deepEqual(await meshed.addresses(), [REVIEWS_CLUSTER_IP], 'the ClusterIP after the relist'), 'a change across a 410');

    // The API down past kube-stale-after: a Pod IP may have been reused, so everyone gets HAProxy.
    await d.kube.faults.down();
    await eventually(async () => assert.deepEqual(await meshed.addresses(), HAPROXY, 'HAProxy while Kubernetes is stale'), 'stale to send everyone to HAProxy');
    const explain = await request(r.adminUrl(), `/v1/explain?service=reviews&from=${MESHED_CALLER}`);
    assert.match(explain.body, /kube-stale/, 'explain names the reason');
    const metrics = (await request(r.adminUrl(), '/metrics')).body;
    assert.match(metrics, /^discovery_kube_stale 1$/m, 'the stale gauge is set');
    await d.kube.faults.up();
    await eventually(async () => assert.deepEqual(await meshed.addresses(), [REVIEWS_CLUSTER_IP], 'mesh again'), 'recovery from stale', SLOW);
    assert.match((await request(r.adminUrl(), '/metrics')).body, /^discovery_kube_stale 0$/m, 'the stale gauge is cleared');
  } finally {
    await r.stop();
    await d.close();
  }
});

test('live faults: a 409 storm on the Sidecar, then a hand edit removing the host, then the label: no ClusterIP unless the cluster lists the host, the host is put back, a user Sidecar is never written', async () => {
  const d = await startDoubles();
  d.kube.faults.conflicts(6, { pathPrefix: '/apis/networking.istio.io/' });
  const r = await startReplica(d, 'replica-a');
  try {
    await ready(r);
    const meshed = new Answers(r, MESHED_CALLER);
    // Until the cluster's Sidecar lists the host, every answer is HAProxy.
    await eventually(async () => {
      const got = await meshed.addresses();
      const listed = egressHosts(d.kube.get(...SIDECAR)).includes(REVIEWS_HOST);
      if (!listed) assert.deepEqual(got, HAPROXY, 'no ClusterIP before the Sidecar lists the host');
      assert.deepEqual(got, [REVIEWS_CLUSTER_IP], 'the ClusterIP once it does');
    }, 'the Sidecar to be written through the 409s and the gate to open');

    // A hand edit drops the host (label kept): the gate closes and the host is put back, since the
    // caller still looks it up.
    d.kube.apply(sidecarObject('bookinfo', 'productpage', ['istio-system/*'], { managed: true, selector: { app: 'productpage' } }));
    await eventually(async () => {
      const got = await meshed.addresses();
      if (!egressHosts(d.kube.get(...SIDECAR)).includes(REVIEWS_HOST)) assert.deepEqual(got, HAPROXY, 'no ClusterIP while the host is missing');
      assert.ok(egressHosts(d.kube.get(...SIDECAR)).includes(REVIEWS_HOST), 'the host is put back');
      assert.deepEqual(got, [REVIEWS_CLUSTER_IP], 'mesh again once listed');
    }, 'the host to be put back');
    assert.ok(d.kube.stats.log().some((e) => e.status === 409), 'the writes went through 409 conflicts');

    // The label removed: the Sidecar is the user's. Discovery reports the conflict and never writes it.
    const owned = sidecarObject('bookinfo', 'productpage', ['istio-system/*'], { managed: false, selector: { app: 'productpage' } });
    d.kube.apply(owned);
    await eventually(async () => assert.match((await request(r.adminUrl(), '/metrics')).body, /^discovery_sidecar_conflicts 1$/m, 'the conflict is reported'), 'the conflict to be reported');
    await meshed.get();
    await request(r.httpUrl(), '/v1/health/service/details', { from: MESHED_CALLER });
    assert.deepEqual(await meshed.addresses(), HAPROXY, 'the user Sidecar does not list reviews: HAProxy');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(egressHosts(d.kube.get(...SIDECAR)), ['istio-system/*'], 'the user Sidecar is left as the user wrote it');
  } finally {
    await r.stop();
    await d.close();
  }
});
