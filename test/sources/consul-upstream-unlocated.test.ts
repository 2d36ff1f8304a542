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
