// Control state: persisted across restarts, audited, validated; bad input changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlStore } from '../../src/control/control-store.ts';
import { ChangeBus, IndexClock, type ChangeSet } from '../../src/world/changes.ts';
import { DiscoveryError } from '../../src/platform/errors.ts';

async function open(dir?: string) {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'discovery-control-')));
  const bus = new ChangeBus();
  const events: ChangeSet[] = [];
  bus.subscribe((c) => events.push(c));
  return { dir: d, store: await ControlStore.open(d, new IndexClock(), bus), events };
}

test('control: mode and pins survive a restart; every change is in the audit trail', async () => {
  const { dir, store } = await open();
  await store.setMode('consul-only', { actor: 'alice', reason: 'mesh outage' });
  await store.pin('payments', undefined, { actor: 'bob', reason: 'latency' });
  await store.pin('reviews', 'bookinfo/productpage', { actor: 'bob', reason: 'canary' });
  const again = (await open(dir)).store;
  assert.equal(again.mode, 'consul-only');
  assert.ok(again.pinFor('payments', null));
  assert.ok(again.pinFor('reviews', 'bookinfo/productpage'));
  assert.equal(again.pinFor('reviews', 'other/x'), undefined);
  const audit = await again.audit();
  assert.deepEqual(audit.map((a) => [a.action, a.subject, a.actor, a.reason]), [
    ['mode', 'mode', 'alice', 'mesh outage'],
    ['pin', 'payments', 'bob', 'latency'],
    ['pin', 'bookinfo/productpage -> reviews', 'bob', 'canary'],
  ]);
});

test('control: a mode change wakes everything, a pin wakes only its service', async () => {
  const { store, events } = await open();
  await store.setMode('shadow', { actor: 'a', reason: '' });
  await store.pin('Payments', undefined, { actor: 'a', reason: 'x' });
  assert.equal(events[0]!.all, true);
  assert.deepEqual([...events[1]!.services], ['payments']);
});

test('control: bad input is rejected with a clear error and changes nothing', async () => {
  const { dir, store } = await open();
  const before = await readFile(join(dir, 'audit.jsonl'), 'utf8').catch(() => '');
  await assert.rejects(store.pin('', undefined, { actor: 'a', reason: 'x' }), DiscoveryError);
  await assert.rejects(store.pin('bad name with spaces', undefined, { actor: 'a', reason: 'x' }), /not a valid Consul service name/);
  await assert.rejects(store.pin('ok', 'not-a-workload', { actor: 'a', reason: 'x' }), /namespace\/name/);
  await assert.rejects(store.pin('ok', undefined, { actor: 'a', reason: '  ' }), /needs a reason/);
  await assert.rejects(store.unpin('never-pinned', undefined, { actor: 'a', reason: '' }), /no pin/);
  await assert.rejects(store.setMode('chaos' as never, { actor: 'a', reason: '' }), /mode must be one of/);
  assert.equal(store.state.pins.length, 0);
  assert.equal(store.mode, 'hybrid');
  assert.equal(await readFile(join(dir, 'audit.jsonl'), 'utf8').catch(() => ''), before);
});

test('control: a corrupt state file stops the start with a clear error instead of silently resetting the kill-switch', async () => {
  const { dir } = await open();
  await writeFile(join(dir, 'control.json'), '{"mode": "consul-only", "pins": [');
  await assert.rejects(open(dir), /state file .*control\.json is invalid/);
  await writeFile(join(dir, 'control.json'), '{"mode": "sometimes", "pins": []}');
  await assert.rejects(open(dir), /mode must be one of/);
});

test('control: replicas sharing a state dir follow each other (kill-switch on every replica); a bad shared write is ignored', async () => {
  const a = await open();
  const b = await open(a.dir);
  const errors: string[] = [];
  b.store.watchShared(50, (m) => errors.push(m));
  try {
    const before = b.store.index('reviews');
    await a.store.setMode('consul-only', { actor: 'oncall', reason: 'drill' });
    for (let i = 0; i < 200 && b.store.mode !== 'consul-only'; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(b.store.mode, 'consul-only');
    assert.ok(b.store.index('reviews') > before, 'the follower stamps a new index');
    assert.ok(b.events.some((e) => e.all), 'and wakes every waiter');

    await a.store.pin('reviews', undefined, { actor: 'oncall', reason: 'x' });
    for (let i = 0; i < 200 && !b.store.pinFor('reviews', null); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(b.store.pinFor('reviews', null));

    await writeFile(join(a.dir, 'control.json'), '{"mode": "sideways"');
    for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(errors[0] ?? '', /ignoring a change/);
    assert.equal(b.store.mode, 'consul-only', 'a broken shared file changes nothing');
  } finally {
    b.store.stopWatching();
  }
});
