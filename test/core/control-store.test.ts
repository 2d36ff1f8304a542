// Control state: persisted across restarts, audited, validated; bad input changes nothing; replicas
// sharing a state dir follow each other and never overwrite each other's changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlStore } from '../../src/control/control-store.ts';
import { FileControlBackend } from '../../src/control/file-backend.ts';
import { FileAuditLog, type AuditEntry, type AuditLog } from '../../src/control/audit-log.ts';
import type { ControlBackend } from '../../src/control/backend.ts';
import type { ControlState } from '../../src/control/state.ts';
import { ChangeBus, IndexClock, type ChangeSet } from '../../src/world/changes.ts';
import { DiscoveryError } from '../../src/platform/errors.ts';
import { eventually } from '../support/eventually.ts';

const POLL = { pollIntervalMs: 50 };

async function open(dir?: string, wrap: { backend?: (b: ControlBackend) => ControlBackend; audit?: (a: AuditLog) => AuditLog } = {}) {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'discovery-control-')));
  const bus = new ChangeBus();
  const events: ChangeSet[] = [];
  bus.subscribe((c) => events.push(c));
  const backend = new FileControlBackend(d, POLL);
  const audit = new FileAuditLog(d);
  const store = await ControlStore.open({ backend: wrap.backend?.(backend) ?? backend, audit: wrap.audit?.(audit) ?? audit, indexClock: new IndexClock(), bus });
  return { dir: d, store, events };
}

async function storedFile(dir: string): Promise<{ version?: number; mode: string; pins: Array<{ service: string }> }> {
  return JSON.parse(await readFile(join(dir, 'control.json'), 'utf8')) as { version?: number; mode: string; pins: Array<{ service: string }> };
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
  assert.deepEqual((await again.audit(1)).map((a) => a.subject), ['bookinfo/productpage -> reviews']);
  assert.equal((await storedFile(dir)).version, 3, 'each save stores the next version');
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
  await assert.rejects(open(dir), /state file .*control\.json is invalid: .*; fix or remove it/);
  await writeFile(join(dir, 'control.json'), '{"mode": "sometimes", "pins": []}');
  await assert.rejects(open(dir), (err: unknown) => err instanceof DiscoveryError && err.code === 'DSC_ERR_STATE' && /mode must be one of hybrid, shadow, consul-only/.test(err.message));
  await writeFile(join(dir, 'control.json'), '{"mode": "hybrid", "pins": [{"service": "bad name", "reason": "r", "actor": "a", "at": "t"}]}');
  await assert.rejects(open(dir), /pins\[0\]\.service must match/);
});

test('control: a state file written before versions existed loads as version 0 and is saved as version 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-control-'));
  const old = {
    mode: 'consul-only',
    modeReason: 'drill',
    modeChangedAt: '2024-01-01T00:00:00.000Z',
    modeChangedBy: 'alice',
    pins: [{ service: 'payments', reason: 'latency', actor: 'bob', at: '2024-01-01T00:00:00.000Z' }],
  };
  await writeFile(join(dir, 'control.json'), `${JSON.stringify(old, null, 2)}\n`);
  assert.deepEqual(await new FileControlBackend(dir).load(), { version: 0, state: old });
  const { store } = await open(dir);
  assert.equal(store.mode, 'consul-only');
  assert.ok(store.pinFor('payments', null));
  await store.pin('reviews', undefined, { actor: 'bob', reason: 'x' });
  const saved = await storedFile(dir);
  assert.equal(saved.version, 1);
  assert.equal(saved.mode, 'consul-only');
  assert.deepEqual(saved.pins.map((p) => p.service), ['payments', 'reviews']);
});

test('control: two stores on one dir both change it and neither change is lost (save-if-version)', async () => {
  let misses = 0;
  const counting = (inner: ControlBackend): ControlBackend => ({
    name: inner.name,
    load: () => inner.load(),
    watch: (...args) => inner.watch(...args),
    saveIfVersion: async (next, expected) => {
      const saved = await inner.saveIfVersion(next, expected);
      if (!saved.ok) misses++;
      return saved;
    },
  });
  const a = await open(undefined, { backend: counting });
  const b = await open(a.dir, { backend: counting });
  // Neither follows the other: b works from the state it loaded, so its save loses the version race.
  await a.store.pin('payments', undefined, { actor: 'alice', reason: 'latency' });
  await b.store.setMode('consul-only', { actor: 'bob', reason: 'drill' });
  let stored = await storedFile(a.dir);
  assert.equal(stored.mode, 'consul-only');
  assert.deepEqual(stored.pins.map((p) => p.service), ['payments']);
  assert.equal(misses, 1);
  assert.ok(b.store.pinFor('payments', null), 'the loser took in the winner change');
  assert.ok(b.events.some((e) => e.services.has('payments')), 'and woke its waiters for it');

  // Replicas that follow each other, changing at the same time: a save that loses the race is
  // worked out again on top of the winner's, and every change is stored.
  const stop = new AbortController();
  const errors: string[] = [];
  a.store.watch(stop.signal, (m) => errors.push(m));
  b.store.watch(stop.signal, (m) => errors.push(m));
  try {
    for (let round = 0; round < 5; round++) {
      await eventually(() => assert.deepEqual(a.store.state, b.store.state), 'both replicas to agree');
      await Promise.all([
        a.store.pin(`a${round}`, undefined, { actor: 'alice', reason: 'x' }),
        b.store.pin(`b${round}`, undefined, { actor: 'bob', reason: 'y' }),
      ]);
    }
  } finally {
    stop.abort();
  }
  assert.deepEqual(errors, []);
  assert.ok(misses > 1, 'the saves of a round raced');
  await b.store.unpin('payments', undefined, { actor: 'bob', reason: 'fixed' });
  stored = await storedFile(a.dir);
  assert.equal(stored.mode, 'consul-only');
  assert.deepEqual(stored.pins.map((p) => p.service).sort(), ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
  assert.deepEqual(
    (await readdir(a.dir)).filter((f) => f.includes('lock') || f.endsWith('.tmp')),
    [],
    'no lock or temporary file is left behind',
  );
});

test('control: a save that loses the race twice fails with a clear error and is not applied', async () => {
  let conflicts = 0;
  const racing = (inner: ControlBackend): ControlBackend => ({
    name: inner.name,
    load: () => inner.load(),
    watch: (...args) => inner.watch(...args),
    saveIfVersion: async (_next: ControlState, expected: number) => {
      conflicts++;
      const stolen: ControlState = { mode: 'shadow', modeReason: `other writer ${conflicts}`, modeChangedAt: null, modeChangedBy: 'other', pins: [] };
      return { ok: false, current: { state: stolen, version: expected + 1 } };
    },
  });
  const { store, events } = await open(undefined, { backend: racing });
  await assert.rejects(
    store.pin('payments', undefined, { actor: 'a', reason: 'x' }),
    (err: unknown) => err instanceof DiscoveryError && err.code === 'DSC_ERR_STATE' && /kept changing .*not applied, try again/.test(err.message),
  );
  assert.equal(conflicts, 2, 'tried once more on top of the state that won, then gave up');
  assert.equal(store.pinFor('payments', null), undefined);
  assert.equal(store.mode, 'shadow', 'what the other writer stored is in effect');
  assert.ok(events.some((e) => e.all), 'and woke every waiter');
});

test('control: the audit entry is written before the state, and a failed audit stores nothing', async () => {
  const order: string[] = [];
  let auditFails = false;
  const { dir, store } = await open(undefined, {
    audit: (inner) => ({
      append: async (entry: AuditEntry) => {
        order.push(`audit ${entry.subject}`);
        if (auditFails) throw new Error('disk full');
        await inner.append(entry);
      },
      read: (limit) => inner.read(limit),
    }),
    backend: (inner) => ({
      name: inner.name,
      load: () => inner.load(),
      watch: (...args) => inner.watch(...args),
      saveIfVersion: async (next, expected) => {
        order.push(`save ${next.pins.map((p) => p.service).join(',')}`);
        return inner.saveIfVersion(next, expected);
      },
    }),
  });
  await store.pin('payments', undefined, { actor: 'a', reason: 'x' });
  assert.deepEqual(order, ['audit payments', 'save payments']);
  auditFails = true;
  await assert.rejects(store.pin('reviews', undefined, { actor: 'a', reason: 'x' }), /disk full/);
  assert.deepEqual(order, ['audit payments', 'save payments', 'audit reviews'], 'no save without its audit entry');
  assert.equal(store.pinFor('reviews', null), undefined);
  assert.deepEqual((await storedFile(dir)).pins.map((p) => p.service), ['payments']);
});

test('control: replicas sharing a state dir follow each other (kill-switch on every replica); a bad shared write is ignored', async () => {
  const a = await open();
  const b = await open(a.dir);
  const errors: string[] = [];
  const stop = new AbortController();
  b.store.watch(stop.signal, (m) => errors.push(m));
  try {
    const before = b.store.index('reviews');
    await a.store.setMode('consul-only', { actor: 'oncall', reason: 'drill' });
    await eventually(() => assert.equal(b.store.mode, 'consul-only'), 'the follower to take the kill-switch');
    assert.ok(b.store.index('reviews') > before, 'the follower stamps a new index');
    assert.ok(b.events.some((e) => e.all), 'and wakes every waiter');

    await a.store.pin('reviews', undefined, { actor: 'oncall', reason: 'x' });
    await eventually(() => assert.ok(b.store.pinFor('reviews', null)), 'the follower to take the pin');
    assert.ok(b.events.some((e) => !e.all && e.services.has('reviews')), 'a followed pin wakes its service');

    await writeFile(join(a.dir, 'control.json'), '{"mode": "sideways"');
    await eventually(() => assert.notEqual(errors.length, 0), 'the broken shared write to be reported');
    assert.match(errors[0] ?? '', /ignoring a change to .*control\.json written elsewhere/);
    await writeFile(join(a.dir, 'control.json'), '{"mode": "sideways", "pins": []}');
    await eventually(() => assert.equal(errors.length, 2), 'the invalid shared write to be reported');
    assert.match(errors[1] ?? '', /mode must be one of/);
    assert.equal(b.store.mode, 'consul-only', 'a broken shared file changes nothing');
    assert.ok(b.store.pinFor('reviews', null));

    // The next change repairs the file and every replica follows it again.
    await b.store.unpin('reviews', undefined, { actor: 'oncall', reason: 'fixed' });
    assert.equal((await storedFile(a.dir)).mode, 'consul-only');
  } finally {
    stop.abort();
  }
});
