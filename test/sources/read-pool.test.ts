// The upstream source's pool of non-blocking requests (src/sources/consul-upstream/read-pool.ts):
// the order jobs start in, no job queued twice, a job asked for while it runs runs once more.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadPool, type PoolJob } from '../../src/sources/consul-upstream/read-pool.ts';
import { ManualClock } from '../support/manual-clock.ts';

function pool(size: number) {
  const clock = new ManualClock();
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const p = new ReadPool(clock, size, (job: PoolJob) => {
    const id = `${job.kind}:${job.key}`;
    started.push(id);
    return new Promise<void>((resolve) => finish.set(id, resolve));
  });
  const done = async (id: string): Promise<void> => {
    const f = finish.get(id);
    assert.ok(f, `${id} is running`);
    finish.delete(id);
    f();
    await new Promise((r) => setImmediate(r));
  };
  return { clock, p, started, done };
}

test('read pool: a summaries read jumps the queue; reads before probes; nothing queued twice', async () => {
  const { clock, p, started, done } = pool(1);
  p.setProbeRate(1000);
  p.add({ kind: 'read', key: 'a' });
  p.add({ kind: 'probe', key: 'x' });
  p.add({ kind: 'read', key: 'b' });
  p.add({ kind: 'read', key: 'b' });
  p.add({ kind: 'summaries', key: '' });
  assert.deepEqual(started, ['read:a'], 'one at a time');
  await done('read:a');
  await done('summaries:');
  await done('read:b');
  await clock.advance(5); // probes wait for their rate's credit
  await done('probe:x');
  assert.deepEqual(started, ['read:a', 'summaries:', 'read:b', 'probe:x']);
  assert.equal(p.urgentPending, 0);
  p.stop();
});

test('read pool: a job asked for while it runs runs once more afterwards; whenUrgentDone waits for it', async () => {
  const { p, started, done } = pool(2);
  p.add({ kind: 'summaries', key: '' });
  p.add({ kind: 'summaries', key: '' });
  assert.deepEqual(started, ['summaries:']);
  let idle = false;
  void p.whenUrgentDone().then(() => (idle = true));
  await done('summaries:');
  assert.deepEqual(started, ['summaries:', 'summaries:'], 'the answer in flight may predate the change that asked again');
  assert.equal(idle, false);
  await done('summaries:');
  assert.equal(idle, true);
  p.stop();
});
