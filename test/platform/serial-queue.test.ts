// SerialQueue: jobs run one at a time in order; a failure stays with its own job.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialQueue } from '../../src/platform/serial-queue.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('serial queue: jobs run one after another, in the order queued', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let running = 0;
  const job = (name: string, ms: number) => async () => {
    running++;
    assert.equal(running, 1, 'no two jobs overlap');
    log.push(`start ${name}`);
    await tick(ms);
    log.push(`end ${name}`);
    running--;
    return name;
  };
  const results = await Promise.all([q.run(job('a', 20)), q.run(job('b', 1)), q.run(job('c', 5))]);
  assert.deepEqual(results, ['a', 'b', 'c']);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('serial queue: a failed job rejects its own promise and does not block later ones', async () => {
  const q = new SerialQueue();
  const failed = q.run(async () => {
    await tick(5);
    throw new Error('boom');
  });
  const thrown = q.run(() => {
    throw new Error('sync boom');
  });
  const after = q.run(() => 42);
  await assert.rejects(failed, /boom/);
  await assert.rejects(thrown, /sync boom/);
  assert.equal(await after, 42);
});

test('serial queue: synchronous jobs run later, never inside run()', async () => {
  const q = new SerialQueue();
  let ran = false;
  const p = q.run(() => {
    ran = true;
  });
  assert.equal(ran, false);
  await p;
  assert.equal(ran, true);
});
