// The shared control state when the Consul KV fails (docs/adr/0010-control-in-consul-kv.md): a
// replica that cannot reach it keeps its last known state and says so, a write fails whole and
// names the local override, a restart during an outage starts from the state dir's copy (or with
// the kill-switch on when there is none) and never writes that start back as shared; an index
// reset, a value that does not validate and a deleted key are each handled as Consul means them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlWriteError } from '../../src/control/control-store.ts';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { CONTROL_KEY, startReplica, storedDocument, tempDir, withTwoReplicas } from './replicas.ts';

test('kv control: KV down: the last known state stays, status says since when, a write fails whole and names the local override; back up: changes flow again', () =>
  withTwoReplicas(async ({ double, a, b }) => {
    await a.store.pin('payments', undefined, { actor: 'alice', reason: 'latency' });
    await eventually(() => assert.ok(b.store.pinFor('payments', null), 'b has the pin'), 'b to follow');

    await double.faults.down();
    await eventually(() => assert.equal(b.store.status().backend.reachable, false), 'the watch to notice the outage');
    const health = b.store.status().backend;
    assert.ok(health.unreachableSince && !Number.isNaN(Date.parse(health.unreachableSince)), 'since when');
    assert.ok(health.lastError, 'and why');
    assert.ok(b.store.pinFor('payments', null), 'the last known state stays in force');
    assert.ok(b.logLines.some((l) => l.includes('is unreachable') && l.includes('keeping the last known control state')), 'and the outage is logged');

    await assert.rejects(b.store.setMode('consul-only', { actor: 'bob', reason: 'outage' }), (err: unknown) => {
      assert.ok(err instanceof ControlWriteError, String(err));
      assert.match(err.message, /cannot change the control state in Consul KV discovery\/control at http:\/\/127\.0\.0\.1:\d+: .*the change was not applied/);
      assert.match(err.message, /local override/);
      return true;
    });
    assert.equal(b.store.mode, 'hybrid', 'nothing changed');

    await double.faults.up();
    await eventually(() => assert.equal(b.store.status().backend.reachable, true), 'the watch to reach the KV again');
    assert.equal(b.store.status().backend.unreachableSince, null);
    await b.store.setMode('consul-only', { actor: 'bob', reason: 'outage' });
    await eventually(() => assert.equal(a.store.mode, 'consul-only'), 'the change to reach a after the outage');
  }));

test('kv control: a restart while the KV is down starts from the copy in the state dir; with no copy, kill-switch on until the first read, which is never written back', async () => {
  const double = await ConsulDouble.start();
  const first = await startReplica(double, 'replica-a', { token: null });
  await first.store.pin('payments', undefined, { actor: 'alice', reason: 'latency' });
  first.stop();
  const cache = JSON.parse(await readFile(join(first.stateDir, 'control-cache.json'), 'utf8')) as { key: string; value: string; modifyIndex: number };
  assert.equal(cache.key, CONTROL_KEY);
  assert.equal(cache.modifyIndex, double.kvGet(CONTROL_KEY)?.modifyIndex);

  await double.faults.down();
  const again = await startReplica(double, 'replica-a', { token: null, stateDir: first.stateDir });
  const fresh = await startReplica(double, 'replica-new', { token: null });
  try {
    assert.ok(again.store.pinFor('payments', null), 'the copy is in force');
    assert.equal(again.store.mode, 'hybrid');
    assert.equal(again.store.status().backend.source, 'cache');
    assert.equal(again.store.status().backend.reachable, false);

    assert.equal(fresh.store.mode, 'consul-only', 'no copy: every answer is Consul\'s');
    assert.equal(fresh.store.status().backend.source, 'fallback');
    assert.match(fresh.store.state.modeReason, /could not be read at start/);

    await double.faults.up();
    await eventually(() => assert.equal(fresh.store.mode, 'hybrid'), 'the first read to replace the kill-switch start');
    assert.ok(fresh.store.pinFor('payments', null));
    assert.equal(fresh.store.status().backend.source, 'store');
    await eventually(() => assert.equal(again.store.status().backend.source, 'store'), 'the restarted replica to read the KV');

    // A change made through a replica that started with the kill-switch (and has not read the KV
    // since) lands on top of what the KV holds, even when nothing is stored (a create would succeed).
    double.kvDelete(CONTROL_KEY);
    await double.faults.down();
    const late = await startReplica(double, 'replica-late', { token: null, watch: false });
    assert.equal(late.store.mode, 'consul-only');
    await double.faults.up();
    await late.store.pin('reviews', undefined, { actor: 'carol', reason: 'x' });
    const doc = storedDocument(double);
    assert.equal(doc?.mode, 'hybrid', 'the kill-switch start was not written as shared state');
    assert.deepEqual(doc?.pins.map((p) => p.service), ['reviews']);
    assert.equal(late.store.mode, 'hybrid');
    late.stop();
  } finally {
    again.stop();
    fresh.stop();
    await double.close();
  }
});

test('kv control: an index that goes backwards (snapshot restore) restarts the watch, and later changes still arrive and CAS still works', () =>
  withTwoReplicas(async ({ double, a, b }) => {
    for (let i = 0; i < 5; i++) double.kvSet(`other/filler-${i}`, 'x');
    await a.store.setMode('shadow', { actor: 'alice', reason: 'x' });
    await eventually(() => assert.equal(b.store.mode, 'shadow'), 'b to follow');

    double.faults.resetIndex(1);
    // A value written by hand after the restore has a ModifyIndex far below the one b last saw.
    double.kvSet(CONTROL_KEY, JSON.stringify({ version: 7, mode: 'consul-only', pins: [] }));
    assert.ok((double.kvGet(CONTROL_KEY)?.modifyIndex ?? 0) < 10, 'the index really went backwards');
    await eventually(() => assert.equal(b.store.mode, 'consul-only'), 'the change after the reset to arrive');
    await eventually(() => assert.equal(a.store.mode, 'consul-only'), 'on both replicas');

    await b.store.pin('payments', undefined, { actor: 'bob', reason: 'x' });
    await eventually(() => assert.ok(a.store.pinFor('payments', null), 'a has the pin'), 'a pin after the reset to reach a');
    assert.equal(storedDocument(double)?.version, 8, 'the revision continues');
    assert.deepEqual([...a.errors, ...b.errors], []);
  }));

test('kv control: a value that does not validate is reported and ignored; the next change replaces it', async () => {
  const double = await ConsulDouble.start();
  const a = await startReplica(double, 'replica-a', { token: null });
  try {
    await a.store.setMode('consul-only', { actor: 'alice', reason: 'drill' });
    double.kvSet(CONTROL_KEY, '{"mode": "sideways", "pins": []}');
    await eventually(() => assert.equal(a.errors.length, 1), 'the bad value to be reported');
    assert.match(a.errors[0] ?? '', /ignoring the value of Consul KV discovery\/control .*not a valid control document: mode must be one of hybrid, shadow, consul-only/);
    double.kvSet(CONTROL_KEY, '{"mode": "consul-only", "pins": [');
    await eventually(() => assert.equal(a.errors.length, 2), 'the broken value to be reported');
    assert.equal(a.store.mode, 'consul-only', 'the last good state stays');
    assert.match(a.store.status().backend.lastError ?? '', /not a valid control document/);

    await a.store.pin('payments', undefined, { actor: 'alice', reason: 'x' });
    const doc = storedDocument(double);
    assert.equal(doc?.mode, 'consul-only');
    assert.deepEqual(doc?.pins.map((p) => p.service), ['payments']);

    // A replica that starts on a bad value runs on its copy and says why.
    double.kvSet(CONTROL_KEY, 'not json');
    const b = await startReplica(double, 'replica-b', { token: null, stateDir: a.stateDir, watch: false });
    assert.equal(b.store.mode, 'consul-only');
    assert.equal(b.store.status().backend.source, 'cache');
    assert.match(b.store.status().backend.lastError ?? '', /not a valid control document/);
    b.stop();
  } finally {
    a.stop();
    await double.close();
  }
});

test('kv control: a deleted key is the initial state on every replica, and the next change creates it again', () =>
  withTwoReplicas(async ({ double, a, b }) => {
    await a.store.setMode('consul-only', { actor: 'alice', reason: 'drill' });
    await eventually(() => assert.equal(b.store.mode, 'consul-only'), 'b to follow');
    double.kvDelete(CONTROL_KEY);
    await eventually(() => assert.equal(b.store.mode, 'hybrid'), 'the deletion to reach b');
    await eventually(() => assert.equal(a.store.mode, 'hybrid'), 'and a');
    await b.store.pin('payments', undefined, { actor: 'bob', reason: 'x' });
    assert.equal(storedDocument(double)?.mode, 'hybrid');
    await eventually(() => assert.ok(a.store.pinFor('payments', null), 'a has the pin'), 'the recreated key to reach a');
  }));

test('kv control: with no state dir copy and no KV, a replica still opens (consul-only) and its own dir gets a copy once the KV answers', async () => {
  const double = await ConsulDouble.start();
  await double.faults.down();
  const dir = await tempDir();
  const r = await startReplica(double, 'replica-a', { token: null, stateDir: dir });
  try {
    assert.equal(r.store.mode, 'consul-only');
    await assert.rejects(readFile(join(dir, 'control-cache.json'), 'utf8'), /ENOENT/);
    await double.faults.up();
    await eventually(async () => assert.equal((JSON.parse(await readFile(join(dir, 'control-cache.json'), 'utf8')) as { value: unknown }).value, null), 'the copy of the missing key');
    assert.equal(r.store.mode, 'hybrid');
  } finally {
    r.stop();
    await double.close();
  }
});
