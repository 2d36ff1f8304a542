import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiException, CoordinationV1Api, type KubeConfig, type V1MicroTime } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';
import { LeaseElector, type LeaseElectorOptions } from '../../src/sinks/kubernetes/lease-elector.ts';
import { microTime } from '../../src/sinks/kubernetes/lease-record.ts';
import { eventually } from '../support/eventually.ts';
import { KubeDouble } from '../support/kube-double/index.ts';
import { KubeIntercept } from './kube-intercept.ts';
import { metricValue } from './kube-sidecar-fixtures.ts';

const NS = 'discovery';
const SIX_DIGITS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

let double: KubeDouble;
before(async () => {
  double = await KubeDouble.start();
});
after(async () => {
  await double.close();
});

interface LeaseShape {
  spec: { holderIdentity?: string; leaseTransitions?: number; renewTime?: string; acquireTime?: string; leaseDurationSeconds?: number };
}
const lease = (name: string) => double.get('coordination.k8s.io/v1', 'Lease', NS, name) as LeaseShape | null;

/** Every leadership change of every elector, in the order they happened. */
class Transitions {
  readonly events: string[] = [];
  readonly #leaders = new Set<string>();
  /** Times a replica became leader while another still believed it led. */
  overlaps = 0;

  watch(id: string, e: LeaseElector): void {
    e.onChange((leader) => {
      this.events.push(`${id}:${leader ? 'leader' : 'follower'}`);
      if (leader && this.#leaders.size > 0) this.overlaps++;
      if (leader) this.#leaders.add(id);
      else this.#leaders.delete(id);
    });
  }
}

interface Running {
  readonly elector: LeaseElector;
  readonly registry: Registry;
  readonly stop: () => Promise<void>;
}

function run(kubeConfig: KubeConfig, name: string, identity: string, t: Transitions, over: Partial<LeaseElectorOptions> = {}): Running {
  const registry = new Registry();
  const elector = new LeaseElector({
    kubeConfig,
    namespace: NS,
    name,
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    clock: systemClock,
    log: createLogger('silent'),
    registry,
    ...over,
  });
  t.watch(identity, elector);
  const controller = new AbortController();
  elector.start(controller.signal);
  return {
    elector,
    registry,
    stop: async () => {
      controller.abort();
      await elector.whenStopped();
    },
  };
}

test('two replicas: exactly one leads, the Lease names it, and the other does not take over while it renews', async () => {
  const t = new Transitions();
  const a = run(double.kubeConfig(), 'one-leader', 'replica-a', t);
  const b = run(double.kubeConfig(), 'one-leader', 'replica-b', t);
  try {
    const [leader, follower] = await eventually(() => {
      const leaders = [a, b].filter((r) => r.elector.isLeader());
      assert.equal(leaders.length, 1);
      return leaders[0] === a ? [a, b] : [b, a];
    }, 'one leader');
    // Several renewals (each a new renewTime) while the follower keeps trying.
    const renewals = new Set<string>();
    await eventually(() => {
      renewals.add(lease('one-leader')?.spec.renewTime ?? '');
      assert.ok(renewals.size >= 4, `${renewals.size} renewals seen`);
    }, 'the holder renewing');
    const stored = lease('one-leader')!;
    assert.equal(stored.spec.holderIdentity, leader.elector.status().identity);
    assert.equal(stored.spec.leaseTransitions, 0);
    assert.equal(stored.spec.leaseDurationSeconds, 1);
    assert.match(stored.spec.renewTime ?? '', SIX_DIGITS);
    assert.match(stored.spec.acquireTime ?? '', SIX_DIGITS);
    assert.equal(leader.elector.isLeader(), true);
    assert.equal(follower.elector.isLeader(), false);
    assert.equal(follower.elector.status().holder, leader.elector.status().identity);
    assert.equal(t.overlaps, 0);
    assert.deepEqual(t.events, [`${leader.elector.status().identity}:leader`]);
    assert.equal(await metricValue(leader.registry, 'discovery_lease_leader'), 1);
    assert.equal(await metricValue(follower.registry, 'discovery_lease_leader'), 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('the holder stops: it steps down at once, clears the holder, and the other takes over without waiting out the lease', async () => {
  const t = new Transitions();
  // A 20 s lease: a takeover within the 5 s wait below can only come from the release.
  const slow = { leaseDurationMs: 20_000, renewDeadlineMs: 10_000, retryPeriodMs: 100 };
  const a = run(double.kubeConfig(), 'released', 'replica-a', t, slow);
  await eventually(() => assert.equal(a.elector.isLeader(), true), 'replica-a leading');
  const b = run(double.kubeConfig(), 'released', 'replica-b', t, slow);
  try {
    await eventually(() => assert.equal(b.elector.status().holder, 'replica-a'), 'replica-b seeing replica-a hold the Lease');
    const stopped = a.stop();
    assert.equal(a.elector.isLeader(), false, 'steps down as soon as it is told to stop');
    await stopped;
    await eventually(() => assert.equal(b.elector.isLeader(), true), 'replica-b taking over');
    const stored = lease('released')!;
    assert.equal(stored.spec.holderIdentity, 'replica-b');
    assert.equal(stored.spec.leaseTransitions, 1);
    assert.deepEqual(t.events, ['replica-a:leader', 'replica-a:follower', 'replica-b:leader']);
    assert.equal(await metricValue(a.registry, 'discovery_lease_leader'), 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('the holder dies without releasing: it stops believing it leads at its renew deadline, the other takes over after the lease duration', async () => {
  const t = new Transitions();
  const proxy = await KubeIntercept.start(double.kubeConfig());
  const a = run(proxy.kubeConfig(), 'abandoned', 'replica-a', t);
  let b: Running | null = null;
  try {
    await eventually(() => assert.equal(a.elector.isLeader(), true), 'replica-a leading');
    b = run(double.kubeConfig(), 'abandoned', 'replica-b', t);
    await eventually(() => assert.equal(b!.elector.status().holder, 'replica-a'), 'replica-b seeing replica-a hold the Lease');
    await proxy.close(); // replica-a can no longer reach the API: to the cluster it is dead
    await eventually(() => assert.equal(b!.elector.isLeader(), true), 'replica-b taking over', { timeoutMs: 10_000 });
    assert.equal(a.elector.isLeader(), false);
    assert.match(a.elector.status().lastError ?? '', /cannot renew Lease discovery\/abandoned|cannot read Lease discovery\/abandoned/);
    await eventually(() => assert.deepEqual([...t.events].sort(), ['replica-a:follower', 'replica-a:leader', 'replica-b:leader'], 'each transition happened once'), 'the transition events');
    assert.equal(t.overlaps, 0, 'replica-b never led while replica-a believed it led');
    const stored = lease('abandoned')!;
    assert.equal(stored.spec.holderIdentity, 'replica-b');
    assert.equal(stored.spec.leaseTransitions, 1);
  } finally {
    await a.stop();
    await b?.stop();
    await proxy.close();
  }
});

test('renewals failing past the renew deadline: the holder stops leading; when the API recovers it renews the Lease it still holds', async () => {
  const t = new Transitions();
  const a = run(double.kubeConfig(), 'flaky', 'replica-a', t);
  try {
    await eventually(() => assert.equal(a.elector.isLeader(), true), 'replica-a leading');
    const acquired = lease('flaky')!.spec.acquireTime;
    double.faults.fail('always', 500, { pathPrefix: '/apis/coordination.k8s.io/' });
    await eventually(() => assert.equal(a.elector.isLeader(), false), 'replica-a stepping down');
    assert.match(a.elector.status().lastError ?? '', /HTTP 500/);
    assert.equal(await metricValue(a.registry, 'discovery_lease_leader'), 0);
    double.faults.fail(0);
    await eventually(() => assert.equal(a.elector.isLeader(), true), 'replica-a leading again');
    assert.equal(lease('flaky')!.spec.leaseTransitions, 0, 'same holder: no transition');
    assert.equal(lease('flaky')!.spec.acquireTime, acquired);
    assert.deepEqual(t.events, ['replica-a:leader', 'replica-a:follower', 'replica-a:leader']);
  } finally {
    double.faults.fail(0);
    await a.stop();
  }
});

test('a renewal that hangs: the holder stops leading at its deadline while the request is still pending', async () => {
  const t = new Transitions();
  const proxy = await KubeIntercept.start(double.kubeConfig());
  const held: Array<() => void> = [];
  const a = run(proxy.kubeConfig(), 'hung', 'replica-a', t, { leaseDurationMs: 3000, renewDeadlineMs: 1500, retryPeriodMs: 100 });
  try {
    await eventually(() => assert.equal(a.elector.isLeader(), true), 'replica-a leading');
    proxy.hook = (req) => (req.method === 'PUT' ? new Promise((resolve) => held.push(() => resolve(undefined))) : undefined);
    await eventually(() => assert.equal(a.elector.isLeader(), false), 'replica-a stepping down', { timeoutMs: 5000 });
    assert.ok(held.length >= 1, 'a renewal was held');
    // isLeader() is bounded by the deadline itself; the transition event follows from the
    // elector's deadline timer, which a loaded machine may run a little late.
    // A slow renewal before the hang may already have cost the lead once: first and last count.
    await eventually(() => {
      assert.equal(t.events[0], 'replica-a:leader', 'it led');
      assert.equal(t.events.at(-1), 'replica-a:follower', 'it follows while the renewal hangs');
    }, 'the step-down event');
  } finally {
    proxy.hook = () => undefined;
    for (const release of held) release();
    await a.stop();
    await proxy.close();
  }
});

test('MicroTime: the API rejects three fractional digits; microTime() has six and is accepted', async () => {
  const api = double.kubeConfig().makeApiClient(CoordinationV1Api);
  const spec = (time: V1MicroTime) => ({ holderIdentity: 'x', leaseDurationSeconds: 15, acquireTime: time, renewTime: time });
  const millis = new Date(Date.parse('2026-03-01T00:00:00.123Z'));
  await assert.rejects(
    api.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'three-digits' }, spec: spec(millis) } }),
    (err: unknown) => err instanceof ApiException && (err as ApiException<unknown>).code === 400 && /cannot parse/.test(String((err as ApiException<unknown>).body)),
  );
  assert.equal(lease('three-digits'), null);
  assert.equal(microTime(Date.parse('2026-03-01T00:00:00.123Z')).toISOString(), '2026-03-01T00:00:00.123000Z');
  await api.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'six-digits' }, spec: spec(microTime(Date.parse('2026-03-01T00:00:00.123Z'))) } });
  assert.equal(lease('six-digits')?.spec.renewTime, '2026-03-01T00:00:00.123000Z');
});

test('bad timings are refused with a message naming them', () => {
  const base = { kubeConfig: double.kubeConfig(), namespace: NS, identity: 'x', clock: systemClock, log: createLogger('silent'), registry: new Registry() };
  assert.throws(() => new LeaseElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000 }), /lease duration \(1000 ms\) must be longer than the renew deadline \(1000 ms\)/);
  assert.throws(() => new LeaseElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 500, retryPeriodMs: 500 }), /renew deadline \(500 ms\) must be longer than 1.2 × the retry period/);
  assert.throws(() => new LeaseElector({ ...base, identity: '' }), /identity must not be empty/);
});
