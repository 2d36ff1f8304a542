// An unlocated change (the service list moved, and nothing names the service) must not be taken as
// placed because another service that changed right after it was read: under a stream of changes,
// reads of later changes raise the highest index seen above the list's, which says nothing about
// the change the list announced. Found by the live-mode benchmark (removals waited for the
// periodic sweep).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleet, harness, instancesOf } from './consul-upstream-harness.ts';

test('an unlocated change followed at once by a located change of another service is still found by a sweep', async (t) => {
  // The periodic sweep is far away: only a sweep the unlocated change starts can find it in time.
  const h = await harness({ registrations: fleet(30, 2, 4), source: { hotWatches: 0, probeSweepMs: 600_000 } });
  t.after(() => h.close());
  await h.synced();
  // Let every watch's token bucket refill, so each wake-up below counts as parked (one change).
  await new Promise((r) => setTimeout(r, 1100));
  const since = h.deliveries().length;

  // An instance added to an existing service on an existing node, same tags, no check: only the
  // service-list index moves. Then, within the grace period, a check of another service flips: the
  // health diff names that service, and its read comes back with a higher index.
  h.double.register({ Node: 'haproxy-1', Address: '10.0.0.2', Service: { ID: 'svc-7-2', Service: 'svc-7', Tags: ['haproxy', 'v1'], Port: 20007 } });
  await new Promise((r) => setTimeout(r, 30));
  h.double.setCheckStatus('haproxy-1', 'service:svc-1-0', 'critical');

  await h.delivered(since, (c) => assert.equal(instancesOf(c, 'svc-1').find((i) => i.service.ID === 'svc-1-0')!.checks.find((x) => x.CheckID === 'service:svc-1-0')!.Status, 'critical'), 'the flip');
  await h.delivered(since, (c) => assert.ok(instancesOf(c, 'svc-7').some((i) => i.service.ID === 'svc-7-2'), 'svc-7-2 listed'), 'the unlocated instance', 5000);
});

/** The fleet plus `svc-12-x`: a third instance of svc-12 with a passing check and tags another instance has too, so removing it changes neither the service list nor the non-passing checks nor the node list. */
function fleetWithTwin(): object[] {
  return [
    ...fleet(30, 2, 4),
    {
      Node: 'haproxy-3',
      Address: '10.0.0.4',
      Service: { ID: 'svc-12-x', Service: 'svc-12', Tags: ['haproxy', 'v0'], Port: 20012 },
      Checks: [{ CheckID: 'service:svc-12-x', Name: 'haproxy frontend', Status: 'passing', ServiceID: 'svc-12-x' }],
    },
  ];
}

const probesOf = (h: Awaited<ReturnType<typeof harness>>): number => h.double.stats.log().filter((e) => e.path.startsWith('/v1/health/service/') && e.query['filter'] !== undefined).length;

test('a removal no watch names (a passing instance, its node stays, its tags on another instance) is located by the service summaries, with no probe sweep', async (t) => {
  const h = await harness({ registrations: fleetWithTwin(), source: { hotWatches: 0, probeSweepMs: 600_000 } });
  t.after(() => h.close());
  await h.synced();
  await new Promise((r) => setTimeout(r, 1100));
  const before = probesOf(h);
  const summaries = h.double.stats.requests('/v1/internal/ui/services');
  const since = h.deliveries().length;
  h.double.deregister({ Node: 'haproxy-3', ServiceID: 'svc-12-x' });
  await h.delivered(since, (c) => assert.equal(instancesOf(c, 'svc-12').some((i) => i.service.ID === 'svc-12-x'), false, 'svc-12-x gone'), 'the removal');
  assert.equal(probesOf(h), before, 'no index probe was sent');
  assert.ok(h.double.stats.requests('/v1/internal/ui/services') > summaries, 'the summaries were read');
  assert.equal(instancesOf(h.latest(), 'svc-12').length, 2);
});

test('an upstream that refuses the service summaries: one warning, sync unaffected, unnamed changes still found by probe sweeps', async (t) => {
  const h = await harness({ registrations: fleetWithTwin(), source: { hotWatches: 0, probeSweepMs: 600_000 }, prepare: (d) => d.faults.fail('always', 403, '/v1/internal/ui/services') });
  t.after(() => h.close());
  await h.synced();
  await new Promise((r) => setTimeout(r, 1100));
  const before = probesOf(h);
  const since = h.deliveries().length;
  h.double.deregister({ Node: 'haproxy-3', ServiceID: 'svc-12-x' });
  await h.delivered(since, (c) => assert.equal(instancesOf(c, 'svc-12').some((i) => i.service.ID === 'svc-12-x'), false, 'svc-12-x gone'), 'the removal');
  assert.ok(probesOf(h) > before, 'found by an index-probe sweep');
  const warnings = h.logs.filter((l) => l.msg.includes('cannot read the service summaries'));
  assert.equal(warnings.length, 1, 'one warning');
  assert.equal(h.double.stats.requests('/v1/internal/ui/services'), 1, 'refused summaries are not asked for on every change (again only with the periodic sweep)');
});
