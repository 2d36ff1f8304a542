// Two replicas writing one shared Sidecar sink (live mode), each following what the cluster holds
// through its world, as its informer would show it: hosts are unioned, a host added through one
// replica opens the gate on the other (after the propagation delay), a host removed by hand is put
// back while it is still looked up, and only the leader expires hosts (invariants 2 and 3).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplyResult, ReadBack, SidecarObject, SidecarRef, SidecarSink, SidecarWrite } from '../../src/sinks/sidecar-sink.ts';
import { sidecarKey } from '../../src/sinks/sidecar-sink.ts';
import { ANN_HOSTS } from '../../src/reconcile/managed-sidecar.ts';
import { convertSidecar } from '../../src/sources/kubernetes/convert.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { harness, meshWorld, T0, type Harness } from './helpers.ts';

type HostTimes = Record<string, { lastSeen: string; writtenAt: string; expiring?: string }>;

/** A sink with the merge rule of the Kubernetes sink: union of hosts minus the ones removed on purpose. */
class UnionSink implements SidecarSink {
  readonly name = 'union';
  readonly objects = new Map<string, SidecarObject>();
  /** Called after every change, as the API server's watch would tell every replica's informer. */
  onChange: () => void = () => undefined;

  async readBack(): Promise<ReadBack> {
    return { ok: true, sidecars: [...this.objects.values()] };
  }

  async apply(writes: readonly SidecarWrite[]): Promise<ApplyResult> {
    for (const w of writes) {
      const key = sidecarKey(w.object);
      const old = this.objects.get(key);
      const removed = new Set(w.removedHosts);
      const hosts = new Set([...(old?.spec.egress[0]?.hosts ?? []), ...(w.object.spec.egress[0]?.hosts ?? [])].filter((h) => !removed.has(h)));
      const times: HostTimes = { ...parseTimes(old) };
      for (const [h, t] of Object.entries(parseTimes(w.object))) {
        const prev = times[h];
        times[h] = prev ? { lastSeen: max(prev.lastSeen, t.lastSeen), writtenAt: min(prev.writtenAt, t.writtenAt), ...(t.expiring ? { expiring: t.expiring } : {}) } : t;
      }
      for (const h of Object.keys(times)) if (!hosts.has(h)) delete times[h];
      this.objects.set(key, {
        ...w.object,
        metadata: { ...w.object.metadata, annotations: { ...w.object.metadata.annotations, [ANN_HOSTS]: JSON.stringify(times) } },
        spec: { ...w.object.spec, egress: [{ hosts: [...hosts].sort() }] },
      });
    }
    this.onChange();
    return { applied: writes.map((w) => sidecarKey(w.object)), failed: [] };
  }

  async delete(refs: readonly SidecarRef[]): Promise<ApplyResult> {
    for (const r of refs) this.objects.delete(sidecarKey(r));
    this.onChange();
    return { applied: refs.map(sidecarKey), failed: [] };
  }

  /** An operator edits the object (kubectl edit): no merge, no label check. */
  editByHand(key: string, edit: (o: SidecarObject) => SidecarObject): void {
    this.objects.set(key, edit(this.objects.get(key)!));
    this.onChange();
  }

  hosts(key: string): string[] {
    return [...(this.objects.get(key)?.spec.egress[0]?.hosts ?? [])];
  }
}

const parseTimes = (o: SidecarObject | undefined): HostTimes => (o?.metadata.annotations[ANN_HOSTS] ? (JSON.parse(o.metadata.annotations[ANN_HOSTS]) as HostTimes) : {});
const max = (a: string, b: string) => (a > b ? a : b);
const min = (a: string, b: string) => (a < b ? a : b);

const PRODUCTPAGE = 'bookinfo/productpage';
const REVIEWS = 'bookinfo/reviews.bookinfo.svc.cluster.local';
const RATINGS = 'bookinfo/ratings.bookinfo.svc.cluster.local';

/** Two replicas on one clock and one sink; every sink change reaches both worlds. */
async function twoReplicas(opts: { expireAfterMs?: number } = {}) {
  const clock = new ManualClock(T0);
  const sink = new UnionSink();
  const leader = { a: false, b: false };
  const sidecars = { expireAfterMs: opts.expireAfterMs ?? 0 };
  const a = await harness(sink, { clock, sidecars, sharedSink: { isLeader: () => leader.a } });
  const b = await harness(sink, { clock, sidecars, sharedSink: { isLeader: () => leader.b } });
  sink.onChange = () => {
    const infos = [...sink.objects.values()].map((o) => convertSidecar(o, o.apiVersion));
    for (const r of [a, b]) r.core.setWorld({ kube: meshWorld({ sidecars: infos }).kube });
  };
  const settle = async (ms: number) => {
    await clock.advance(ms);
    await Promise.all([a.scoping.settled(), b.scoping.settled()]);
  };
  const stop = () => Promise.all([a.stop(), b.stop()]);
  return { clock, sink, leader, a, b, settle, stop };
}

const route = (h: Harness, ip: string, service: string) => h.lookup(ip, service).decision;

test('shared sink: lookups landing on two replicas end in one Sidecar holding both hosts; each host opens the gate on both replicas', async () => {
  const t = await twoReplicas();
  assert.equal(route(t.a, '127.0.0.10', 'reviews').reason, 'sidecar-pending');
  assert.equal(route(t.b, '127.0.0.11', 'ratings').reason, 'sidecar-pending');
  // Quiet period: each replica writes what it saw (the other's write, seen through the world,
  // restarts the quiet period once).
  await t.settle(1000);
  await t.settle(1000);
  assert.deepEqual(t.sink.hosts(PRODUCTPAGE).filter((h) => h.startsWith('bookinfo/')), [RATINGS, REVIEWS]);

  // Listed in the cluster, but istiod has not pushed it yet: still HAProxy everywhere.
  assert.equal(route(t.a, '127.0.0.10', 'ratings').route, 'consul');
  await t.settle(3000); // propagation delay since the cluster showed the hosts
  // Replica A never wrote ratings, B never wrote reviews: the cluster's Sidecar opened both.
  assert.equal(route(t.a, '127.0.0.10', 'ratings').route, 'mesh');
  assert.equal(route(t.b, '127.0.0.11', 'reviews').route, 'mesh');
  await t.stop();
});

test('shared sink: a host removed by hand closes the gate at once and is put back while still looked up', async () => {
  const t = await twoReplicas();
  route(t.a, '127.0.0.10', 'reviews');
  await t.settle(1000);
  await t.settle(3000);
  assert.equal(route(t.a, '127.0.0.10', 'reviews').route, 'mesh');

  t.sink.editByHand(PRODUCTPAGE, (o) => ({ ...o, spec: { ...o.spec, egress: [{ hosts: o.spec.egress[0]!.hosts.filter((h) => h !== REVIEWS) }] } }));
  // Not listed any more: no ClusterIP for it on either replica (invariant 2).
  assert.equal(route(t.a, '127.0.0.10', 'reviews').reason, 'sidecar-pending');
  assert.equal(route(t.b, '127.0.0.11', 'reviews').reason, 'sidecar-pending');
  await t.settle(1000);
  assert.ok(t.sink.hosts(PRODUCTPAGE).includes(REVIEWS), 'put back: it is still being looked up');
  await t.settle(3000);
  assert.equal(route(t.b, '127.0.0.11', 'reviews').route, 'mesh');
  await t.stop();
});

test('shared sink: replicas that do not lead never expire a host; the leader does', async () => {
  const t = await twoReplicas({ expireAfterMs: 60_000 });
  route(t.a, '127.0.0.10', 'reviews');
  await t.settle(1000);
  for (let i = 0; i < 20; i++) await t.settle(15_000); // 5 minutes without a lookup
  assert.ok(t.sink.hosts(PRODUCTPAGE).includes(REVIEWS), 'no leader: nothing removed');

  t.leader.b = true; // B never looked reviews up; it expires it from the cluster's record
  for (let i = 0; i < 12 && t.sink.hosts(PRODUCTPAGE).includes(REVIEWS); i++) await t.settle(15_000);
  assert.ok(!t.sink.hosts(PRODUCTPAGE).includes(REVIEWS), 'the leader expired the unused host');
  assert.equal(route(t.a, '127.0.0.10', 'reviews').route, 'consul');
  await t.stop();
});
