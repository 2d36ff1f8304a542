// Two replicas sharing the control state through one Consul KV key (docs/adr/0010-control-in-consul-kv.md):
// a change through either reaches the other through its blocking watch, writes race safely with
// CAS on the key's ModifyIndex, the audit trail is one create-only key per entry, and Discovery's
// token goes to Consul and nowhere else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { eventually } from '../support/eventually.ts';
import { ACL, CONTROL_KEY, DISCOVERY_TOKEN, startReplica, storedDocument, withTwoReplicas } from './replicas.ts';

test('kv control: a kill-switch and pins set through one replica reach the other, which stamps new indexes and wakes its waiters', async () => {
  const double = await ConsulDouble.start({ acl: ACL });
  const a = await startReplica(double, 'replica-a');
  const b = await startReplica(double, 'replica-b');
  try {
    assert.equal(a.store.mode, 'hybrid', 'a missing key is the initial state');
    assert.equal(double.kvGet(CONTROL_KEY), null, 'and reading it writes nothing');
    const before = b.store.index('reviews');

    await a.store.setMode('consul-only', { actor: 'oncall', reason: 'mesh outage' });
    const stored = double.kvGet(CONTROL_KEY);
    assert.ok(stored, 'the document is in the KV');
    const doc = JSON.parse(stored.value.toString()) as { version: number; mode: string };
    assert.equal(doc.mode, 'consul-only');
    assert.equal(doc.version, 1, 'the document carries its own revision');

    await eventually(() => assert.equal(b.store.mode, 'consul-only'), 'the other replica to take the kill-switch');
    assert.ok(b.store.index('reviews') > before, 'the follower stamps a new index');
    assert.ok(b.events.some((e) => e.all), 'and wakes every parked query');
    assert.deepEqual(b.store.state, a.store.state, 'both hold the same shared state');

    await b.store.pin('reviews', 'bookinfo/productpage', { actor: 'bob', reason: 'canary' });
    await eventually(() => assert.ok(a.store.pinFor('reviews', 'bookinfo/productpage'), 'pin reached a'), 'the pin to reach the first replica');
    assert.ok(a.events.some((e) => !e.all && e.services.has('reviews')), 'a followed pin wakes only its service');
    assert.equal(storedDocument(double)?.version, 2);

    await a.store.unpin('reviews', 'bookinfo/productpage', { actor: 'oncall', reason: 'done' });
    await a.store.setMode('hybrid', { actor: 'oncall', reason: 'recovered' });
    await eventually(() => assert.deepEqual(b.store.state, a.store.state), 'the replicas to agree again');
    assert.equal(b.store.mode, 'hybrid');
    assert.deepEqual([...a.errors, ...b.errors], []);
    assert.equal(a.store.status().backend.reachable, true);
    assert.equal(a.store.status().backend.kind, 'consul-kv');
  } finally {
    a.stop();
    b.stop();
    await double.close();
  }
});

test('kv control: two replicas writing at the same time both land (CAS on ModifyIndex), nothing is lost', () =>
  withTwoReplicas(async ({ double, a, b }) => {
    // Neither has seen the other's write: b's save misses the CAS, takes a's value in and tries again on top.
    await Promise.all([a.store.pin('payments', undefined, { actor: 'alice', reason: 'latency' }), b.store.setMode('consul-only', { actor: 'bob', reason: 'drill' })]);
    let doc = storedDocument(double);
    assert.equal(doc?.mode, 'consul-only');
    assert.deepEqual(doc?.pins.map((p) => p.service), ['payments']);

    for (let round = 0; round < 4; round++) {
      await eventually(() => assert.deepEqual(a.store.state, b.store.state), 'both replicas to agree');
      await Promise.all([a.store.pin(`a${round}`, undefined, { actor: 'alice', reason: 'x' }), b.store.pin(`b${round}`, undefined, { actor: 'bob', reason: 'y' })]);
    }
    doc = storedDocument(double);
    assert.deepEqual(doc?.pins.map((p) => p.service).sort(), ['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'payments']);
    assert.equal(doc?.mode, 'consul-only');
    await eventually(() => assert.deepEqual(b.store.state, a.store.state), 'both replicas to hold every pin');
    // Every save was a CAS write.
    const puts = double.stats.log().filter((r) => r.method === 'PUT' && r.path === `/v1/kv/${CONTROL_KEY}`);
    assert.ok(puts.length >= 10, `${puts.length} writes`);
    assert.ok(puts.every((r) => /^\d+$/.test(r.query['cas'] ?? '')), 'each write carries ?cas=');
  }));

test('kv control: the audit trail holds every entry of both replicas, one create-only key each, listed oldest first', () =>
  withTwoReplicas(async ({ double, a, b }) => {
    await a.store.setMode('consul-only', { actor: 'alice', reason: 'drill' });
    await eventually(() => assert.equal(b.store.mode, 'consul-only'), 'b to follow');
    await b.store.pin('payments', undefined, { actor: 'bob', reason: 'latency' });
    await eventually(() => assert.ok(a.store.pinFor('payments', null), 'a has the pin'), 'a to follow');
    await a.store.setMode('hybrid', { actor: 'alice', reason: 'done' });

    const fromA = await a.store.audit();
    const fromB = await b.store.audit();
    assert.deepEqual(fromA, fromB, 'every replica lists the same trail');
    assert.deepEqual(fromA.map((e) => [e.action, e.subject, e.actor, e.replica]), [
      ['mode', 'mode', 'alice', 'replica-a'],
      ['pin', 'payments', 'bob', 'replica-b'],
      ['mode', 'mode', 'alice', 'replica-a'],
    ]);
    assert.deepEqual((await b.store.audit(2)).map((e) => e.action), ['pin', 'mode'], 'a limit keeps the newest');
    const keys = double.stats.log().filter((r) => r.method === 'PUT' && r.path.startsWith(`/v1/kv/${CONTROL_KEY}/audit/`));
    assert.equal(keys.length, 3);
    assert.ok(keys.every((r) => r.query['cas'] === '0'), 'entries are created only if absent');
    assert.ok(keys.some((r) => r.path.includes('-replica-b-')), 'an entry key names its replica');
  }));

test('kv control: every request carries Discovery\'s token, which never reaches the log, even when Consul refuses it', async () => {
  const double = await ConsulDouble.start({ acl: ACL });
  const a = await startReplica(double, 'replica-a');
  try {
    await a.store.setMode('shadow', { actor: 'alice', reason: 'try' });
    await a.store.audit();
    const log = double.stats.log();
    assert.ok(log.length >= 4);
    assert.ok(log.every((r) => r.token === DISCOVERY_TOKEN), 'X-Consul-Token on every request');
    assert.ok(log.every((r) => !JSON.stringify(r.query).includes(DISCOVERY_TOKEN)), 'never in a query string');
    assert.ok(log.some((r) => r.query['index'] !== undefined), 'the watch sent a blocking query with the token too');

    // A token that lacks rights: the failure is logged and reported, the token is not.
    const denied = await startReplica(double, 'replica-denied', { token: `${DISCOVERY_TOKEN}-unknown` });
    try {
      await assert.rejects(denied.store.setMode('consul-only', { actor: 'x', reason: 'y' }), /ACL not found|403/);
      assert.equal(denied.store.status().backend.reachable, false);
      assert.match(denied.store.status().backend.lastError ?? '', /403/);
      assert.ok(denied.logLines.length > 0, 'the failure was logged');
      assert.ok(denied.logLines.every((l) => !l.includes(DISCOVERY_TOKEN)), 'without the token');
    } finally {
      denied.stop();
    }
    assert.ok(a.logLines.every((l) => !l.includes(DISCOVERY_TOKEN)));
  } finally {
    a.stop();
    await double.close();
  }
});
