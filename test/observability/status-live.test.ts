// The status page's upstream freshness on a live-mode replica built as `discovery serve` builds it,
// on the Consul and Kubernetes doubles: both upstreams followed, where they are (no credentials),
// when Consul last answered; Consul answering 500 shows as not followed, and followed again after.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatusData } from '../../src/admin/status-data.ts';
import { eventually } from '../support/eventually.ts';
import { startDoubles, startReplica } from '../live/live-harness.ts';
import { expectedCounts } from './demo-world.ts';

test('live replica: services counted from its world, Consul and Kubernetes freshness, an upstream outage and its end', { timeout: 120_000 }, async () => {
  const d = await startDoubles();
  const replica = await startReplica(d, 'status');
  try {
    const status = async (): Promise<StatusData> => {
      const r = await fetch(`${replica.adminUrl()}/v1/status`);
      assert.equal(r.status, 200);
      return (await r.json()) as StatusData;
    };
    await eventually(async () => assert.equal((await fetch(`${replica.adminUrl()}/readyz`)).status, 200), 'the replica is ready', { timeoutMs: 20_000 });
    const first = await status();
    assert.deepEqual(first.counts, expectedCounts(replica.app.core.world.current));
    assert.equal(first.counts.meshed, 2, 'reviews and details');
    assert.equal(first.replica, 'status');
    const consul = () => first.sources.find((s) => s.upstream?.startsWith(d.consul.url))!;
    assert.ok(consul(), `the Consul source names its upstream: ${JSON.stringify(first.sources)}`);
    assert.equal(consul().following, true);
    assert.ok(consul().lastContactAt, 'when Consul last answered');
    const kube = first.sources.find((s) => s !== consul())!;
    assert.equal(kube.following, true);
    assert.match(kube.upstream ?? '', /^https?:\/\/127\.0\.0\.1:\d+\/?$/);

    d.consul.faults.fail('always', 500);
    await eventually(async () => {
      const s = (await status()).sources.find((x) => x.name === consul().name)!;
      assert.equal(s.following, false);
      assert.ok(s.lastError, 'the current error is shown');
    }, 'the Consul outage shows', { timeoutMs: 30_000, intervalMs: 250 });
    const page = await (await fetch(`${replica.adminUrl()}/status`)).text();
    assert.match(page, new RegExp(`data-source="${consul().name}">[\\s\\S]*?<span class="no">NO</span>`), 'the page marks the source not followed');

    d.consul.faults.fail(0);
    await eventually(async () => assert.equal((await status()).sources.find((x) => x.name === consul().name)!.following, true), 'Consul followed again', { timeoutMs: 30_000, intervalMs: 250 });
  } finally {
    await replica.stop();
    await d.close();
  }
});
