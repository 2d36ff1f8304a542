import assert from 'node:assert/strict';
import test from 'node:test';
import { ServicePopularity } from '../../src/lookup/service-popularity.ts';
import { ManualClock } from '../support/manual-clock.ts';

function noted(p: ServicePopularity, counts: Record<string, number>): void {
  for (const [s, n] of Object.entries(counts)) for (let i = 0; i < n; i++) p.note(s);
}

test('popularity: the most looked-up services first, ties by name, at most n', () => {
  const p = new ServicePopularity({ clock: new ManualClock() });
  noted(p, { web: 5, api: 9, db: 5, cache: 1 });
  assert.deepEqual(p.top(3), ['api', 'db', 'web']);
  assert.deepEqual(p.top(0), []);
  assert.deepEqual(p.top(10), ['api', 'db', 'web', 'cache']);
});

test('popularity: the last window counts half, a window older than that not at all', async () => {
  const clock = new ManualClock();
  const p = new ServicePopularity({ clock, windowMs: 60_000 });
  noted(p, { old: 10, steady: 4 });
  await clock.advance(60_000);
  assert.deepEqual(p.top(3), ['old', 'steady'], 'the window turns: 5 and 2');
  noted(p, { fresh: 6, steady: 4 });
  assert.deepEqual(p.top(3), ['fresh', 'steady', 'old'], 'this window in full (6; 4 + 2), the last one at half (5)');
  await clock.advance(60_000);
  assert.deepEqual(p.top(3), ['fresh', 'steady'], 'two windows ago: old is gone; 3 and 2 carried over');
  await clock.advance(180_000);
  assert.deepEqual(p.top(3), [], 'after a long quiet gap nothing is carried over');
});
