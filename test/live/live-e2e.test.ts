// Two replicas in live mode on the same upstream Consul and Kubernetes (the doubles): each answers
// both kinds of caller, the caller's lookups landing on different replicas end up in one Sidecar,
// a kill-switch through one replica reaches the other, one replica holds the Lease and another
// takes over when it stops, and KV requests (blocking too) are passed through with the caller's
// token intact.

import assert from 'node:assert/strict';
import test from 'node:test';
import { eventually } from '../support/eventually.ts';
import { run } from '../support/process.ts';
import { CALLER_TOKEN, DETAILS_CLUSTER_IP, HAPROXY, MESHED_CALLER, REVIEWS_CLUSTER_IP, UNMESHED_CALLER, addressesOf, request, startDoubles, startReplica, type Replica } from './live-harness.ts';

const SIDECAR = ['networking.istio.io/v1', 'Sidecar', 'bookinfo', 'productpage'] as const;

function egressHosts(obj: object | null): string[] {
  const spec = (obj as { spec?: { egress?: Array<{ hosts?: string[] }> } } | null)?.spec;
  return [...(spec?.egress?.[0]?.hosts ?? [])].sort();
}

async function ready(r: Replica): Promise<void> {
  await eventually(async () => assert.equal((await request(r.adminUrl(), '/readyz')).status, 200, `${r.name} is not ready`), `${r.name} to be ready`);
}

test('live: two replicas answer both callers, merge one Sidecar, share the kill-switch and hand the Lease over', async () => {
  const d = await startDoubles();
  const a = await startReplica(d, 'replica-a');
  const b = await startReplica(d, 'replica-b');
  try {
    await ready(a);
    await ready(b);

    // The unmeshed caller gets HAProxy from both replicas, with Consul's own headers.
    for (const r of [a, b]) {
      const answer = await request(r.httpUrl(), '/v1/health/service/reviews', { from: UNMESHED_CALLER });
      assert.equal(answer.status, 200, answer.body);
      assert.deepEqual(addressesOf(answer), HAPROXY, `${r.name}: the unmeshed caller gets HAProxy`);
      assert.equal(answer.headers['x-consul-knownleader'], 'true');
    }

    // The meshed caller looks up reviews on a and details on b: one Sidecar lists both, and each
    // replica hands out a ClusterIP only once the cluster's Sidecar lists the host.
    const first = await request(a.httpUrl(), '/v1/health/service/reviews', { from: MESHED_CALLER });
    assert.deepEqual(addressesOf(first), HAPROXY, 'HAProxy until the Sidecar lists the host');
    await request(b.httpUrl(), '/v1/health/service/details', { from: MESHED_CALLER });
    await eventually(() => assert.deepEqual(egressHosts(d.kube.get(...SIDECAR)), ['bookinfo/details.bookinfo.svc.cluster.local', 'bookinfo/reviews.bookinfo.svc.cluster.local', 'istio-system/*'], 'the union of both replicas\' hosts'), 'the Sidecar to list both hosts');
    const labels = (d.kube.get(...SIDECAR) as { metadata: { labels?: Record<string, string> } }).metadata.labels;
    assert.equal(labels?.['app.kubernetes.io/managed-by'], 'discovery');
    for (const [r, service, ip] of [[b, 'reviews', REVIEWS_CLUSTER_IP], [a, 'details', DETAILS_CLUSTER_IP], [a, 'reviews', REVIEWS_CLUSTER_IP]] as const) {
      await eventually(async () => assert.deepEqual(addressesOf(await request(r.httpUrl(), `/v1/health/service/${service}`, { from: MESHED_CALLER })), [ip], `${r.name} answers ${service} with its ClusterIP`), `${r.name} to open the gate for ${service}`);
    }

    // Exactly one replica holds the Lease.
    const leaders = async () => {
      const out: string[] = [];
      for (const r of [a, b]) {
        const body = JSON.parse((await request(r.adminUrl(), '/readyz')).body) as { lease?: { leader: boolean } };
        if (body.lease?.leader) out.push(r.name);
      }
      return out;
    };
    await eventually(async () => assert.equal((await leaders()).length, 1, 'one leader'), 'one Lease holder');

    // Kill-switch through a (the operator's CLI), seen by b: pure Consul answers everywhere.
    const on = await run(['killswitch', 'on', '--reason', 'rollback drill'], { DISCOVERY_ADMIN_ADDR: a.app.addresses.admin! });
    assert.equal(on.code, 0, on.stderr);
    await eventually(async () => assert.deepEqual(addressesOf(await request(b.httpUrl(), '/v1/health/service/reviews', { from: MESHED_CALLER })), HAPROXY, 'b answers HAProxy'), 'the kill-switch to reach b');
    const seen = JSON.parse((await request(b.adminUrl(), '/v1/control')).body) as { mode: string; sharedMode: string };
    assert.equal(seen.sharedMode, 'consul-only');
    const audit = await run(['audit', '-o', 'json'], { DISCOVERY_ADMIN_ADDR: b.app.addresses.admin! });
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /"replica":\s*"replica-a"/, 'the audit trail names the replica that took the command');
    const off = await run(['killswitch', 'off', '--reason', 'drill done'], { DISCOVERY_ADMIN_ADDR: b.app.addresses.admin! });
    assert.equal(off.code, 0, off.stderr);
    await eventually(async () => assert.deepEqual(addressesOf(await request(a.httpUrl(), '/v1/health/service/reviews', { from: MESHED_CALLER })), [REVIEWS_CLUSTER_IP], 'a meshes again'), 'hybrid to reach a');

    // The leader stops: the other takes the Lease.
    const [leader] = await leaders();
    const stays = leader === a.name ? b : a;
    await (leader === a.name ? a : b).stop();
    await eventually(async () => {
      const body = JSON.parse((await request(stays.adminUrl(), '/readyz')).body) as { lease?: { leader: boolean } };
      assert.equal(body.lease?.leader, true, `${stays.name} leads`);
    }, 'the other replica to take the Lease');
  } finally {
    await a.stop();
    await b.stop();
    await d.close();
  }
});

test('live: KV requests are passed through with the caller\'s token, blocking ones too', async () => {
  const d = await startDoubles();
  const a = await startReplica(d, 'replica-a');
  try {
    await ready(a);
    const put = await request(a.httpUrl(), '/v1/kv/app/color', { method: 'PUT', body: 'blue', headers: { 'X-Consul-Token': CALLER_TOKEN } });
    assert.equal(put.status, 200, put.body);
    assert.equal(put.body.trim(), 'true');
    assert.equal(d.consul.kvGet('app/color')?.value.toString(), 'blue');

    const denied = await request(a.httpUrl(), '/v1/kv/app/color', { method: 'PUT', body: 'red' });
    assert.equal(denied.status, 403, 'without the caller\'s token the upstream refuses: Discovery\'s own token is never lent');
    assert.equal(d.consul.kvGet('app/color')?.value.toString(), 'blue');

    const read = await request(a.httpUrl(), '/v1/kv/app/color', { headers: { 'X-Consul-Token': CALLER_TOKEN } });
    assert.equal(read.status, 200, read.body);
    const index = Number(read.headers['x-consul-index']);
    assert.ok(index > 0, 'the upstream\'s index comes back');
    const blocking = request(a.httpUrl(), `/v1/kv/app/color?index=${index}&wait=10s`, { headers: { 'X-Consul-Token': CALLER_TOKEN } });
    await eventually(() => assert.ok(d.consul.stats.parked() >= 1, 'the blocking read is parked upstream'), 'the blocking read to park upstream');
    d.consul.kvSet('app/color', 'green');
    const woke = await blocking;
    assert.equal(woke.status, 200, woke.body);
    const [entry] = JSON.parse(woke.body) as Array<{ Value: string }>;
    assert.equal(Buffer.from(entry!.Value, 'base64').toString(), 'green');
  } finally {
    await a.stop();
    await d.close();
  }
});
