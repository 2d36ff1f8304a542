// The upstream Consul source when the upstream misbehaves: down, hanging, answering 5xx, losing
// its indexes (snapshot restore), answering malformed data, dropping parked queries. The last good
// catalog always stays, the listener hears stale() once per transition, the log gets one line per
// transition or distinct problem, and everything recovers by itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsulCatalog } from '../../src/world/consul-types.ts';
import { eventually } from '../support/eventually.ts';
import { fleet, harness, instancesOf, metric, staleCalls, type Harness } from './consul-upstream-harness.ts';

const statusOf = (c: ConsulCatalog, service: string, checkId: string): string => instancesOf(c, service)[0]!.checks.find((x) => x.CheckID === checkId)!.Status;
const warnings = (h: Harness, fragment: string): number => h.logs.filter((l) => l.level === 40 && l.msg.includes(fragment)).length;
const infos = (h: Harness, fragment: string): number => h.logs.filter((l) => l.level === 30 && l.msg.includes(fragment)).length;

test('upstream down, then up: the last good catalog stays, stale(true) once, reachable false, one warning; recovery by itself delivers what changed meanwhile', async (t) => {
  const h = await harness({ registrations: fleet(8, 1, 2) });
  t.after(() => h.close());
  await h.synced();
  await eventually(() => assert.equal(h.source.contact().reachable, true), 'reachable');
  const delivered = h.deliveries().length;
  const contactBefore = h.source.contact().lastContactAt!;

  await h.double.faults.down();
  await eventually(() => assert.deepEqual(staleCalls(h), [true]), 'stale(true)', { timeoutMs: 8000 });
  assert.equal(h.source.contact().reachable, false);
  assert.equal(await metric(h.registry, 'discovery_upstream_reachable'), 0);
  assert.equal(h.source.status().detail?.['reachable'], false);
  assert.match(h.source.status().lastError ?? '', /unreachable/);
  h.double.setCheckStatus('haproxy-0', 'service:svc-0-0', 'critical');
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(staleCalls(h), [true], 'one call per transition, however many requests fail');
  assert.equal(warnings(h, 'unreachable'), 1, 'one warning per transition');
  assert.equal(h.deliveries().length, delivered, 'the last good catalog stays');
  assert.ok((await metric(h.registry, 'discovery_upstream_requests_total', { result: 'unreachable' })) > 0, 'requests counted as unreachable');
  assert.ok((await metric(h.registry, 'discovery_upstream_last_contact_seconds')) >= 1.5, 'last contact at least 1.5 s ago');

  await h.double.faults.up();
  await eventually(() => assert.deepEqual(staleCalls(h), [true, false]), 'stale(false)', { timeoutMs: 15_000 });
  await h.delivered(delivered, (c) => assert.equal(statusOf(c, 'svc-0', 'service:svc-0-0'), 'critical'), 'the change made while down');
  assert.equal(h.source.contact().reachable, true);
  assert.ok(h.source.contact().lastContactAt! > contactBefore, 'a newer last contact');
  assert.equal(await metric(h.registry, 'discovery_upstream_reachable'), 1);
  assert.equal(h.source.status().lastError, null);
  assert.equal(infos(h, 'answers again'), 1);
  assert.equal(warnings(h, 'unreachable'), 1);
});

test('a hanging upstream is found by the request timeouts (wait + wait/16 + slack): stale until it answers again', async (t) => {
  const h = await harness({ registrations: fleet(4, 1, 2) });
  t.after(() => h.close());
  await h.synced();
  h.double.faults.hang(true);
  await eventually(() => assert.deepEqual(staleCalls(h), [true]), 'stale(true) once the parked queries time out', { timeoutMs: 8000 });
  assert.ok((await metric(h.registry, 'discovery_upstream_requests_total', { result: 'timeout' })) > 0, 'requests counted as timed out');
  assert.equal(h.source.contact().reachable, false);
  h.double.faults.hang(false);
  await eventually(() => assert.deepEqual(staleCalls(h), [true, false]), 'stale(false)', { timeoutMs: 15_000 });
  h.double.setCheckStatus('haproxy-1', 'service:svc-1-0', 'warning');
  await h.delivered(0, (c) => assert.equal(statusOf(c, 'svc-1', 'service:svc-1-0'), 'warning'), 'a change after the hang');
});

test('5xx answers count as an outage (stale, server-error metric) until the upstream answers again', async (t) => {
  const h = await harness({ registrations: fleet(4, 1, 2) });
  t.after(() => h.close());
  await h.synced();
  const delivered = h.deliveries().length;
  h.double.faults.fail('always', 500);
  // The parked watches come back with the 500 when their wait ends.
  await eventually(() => assert.deepEqual(staleCalls(h), [true]), 'stale(true)', { timeoutMs: 8000 });
  assert.ok((await metric(h.registry, 'discovery_upstream_requests_total', { result: 'server-error' })) > 0, 'requests counted as server errors');
  assert.match(h.source.status().lastError ?? '', /HTTP 500: rpc error making call: No cluster leader/);
  assert.equal(h.deliveries().length, delivered);
  h.double.faults.fail(0);
  await eventually(() => assert.deepEqual(staleCalls(h), [true, false]), 'stale(false)', { timeoutMs: 15_000 });
});

test('malformed answers of every kind: a warning naming the endpoint, the last good data kept, retried with backoff, no crash', async (t) => {
  const h = await harness({ registrations: fleet(4, 1, 2) });
  t.after(() => h.close());
  await h.synced();
  const path = '/v1/health/service/svc-1';
  const cases = [
    { kind: 'not-json', says: 'body is not JSON', status: 'warning' },
    { kind: 'no-index', says: 'no X-Consul-Index header', status: 'critical' },
    { kind: 'bad-index', says: 'X-Consul-Index header "not-a-number" is not a number', status: 'passing' },
    { kind: 'missing-fields', says: '[0].Service is required', status: 'warning' },
  ] as const;
  for (const c of cases) {
    const before = statusOf(h.latest(), 'svc-1', 'service:svc-1-0');
    const delivered = h.deliveries().length;
    const errors = h.calls.filter((x) => x.kind === 'error').length;
    h.double.faults.malformed(c.kind, path);
    h.double.setCheckStatus('haproxy-1', 'service:svc-1-0', c.status);
    await eventually(() => assert.ok(h.logs.some((l) => l.level === 40 && l['path'] === path && l.msg.includes(c.says)), `a warning for ${path} saying ${c.says}`), `${c.kind}: logged`);
    assert.equal(statusOf(h.latest(), 'svc-1', 'service:svc-1-0'), before, `${c.kind}: the last good svc-1 stays`);
    assert.ok(h.calls.filter((x) => x.kind === 'error').length > errors, `${c.kind}: the listener heard the error`);
    assert.equal(h.deliveries().length, delivered);
    h.double.faults.malformed(null);
    await h.delivered(delivered, (cat) => assert.equal(statusOf(cat, 'svc-1', 'service:svc-1-0'), c.status), `${c.kind}: the change after the retry`);
  }
  assert.equal(staleCalls(h).length, 0, 'malformed answers are not an outage');
  assert.ok((await metric(h.registry, 'discovery_upstream_requests_total', { kind: 'read', result: 'malformed' })) >= 4, 'reads counted as malformed');

  // A wide watch answering garbage: logged, retried; the change it would have named arrives once it recovers.
  h.double.faults.malformed('bad-index', '/v1/health/state/any');
  await eventually(() => assert.ok(h.logs.some((l) => l.level === 40 && l['path'] === '/v1/health/state/any'), 'a warning naming /v1/health/state/any'), 'the health watch logged');
  const delivered = h.deliveries().length;
  h.double.setCheckStatus('haproxy-0', 'service:svc-2-0', 'critical');
  await new Promise((r) => setTimeout(r, 300));
  h.double.faults.malformed(null);
  await h.delivered(delivered, (cat) => assert.equal(statusOf(cat, 'svc-2', 'service:svc-2-0'), 'critical'), 'the change the health watch names after recovering');
});

test('index reset (snapshot restore): every watch starts over with a plain read, never blocks on index 0, and later changes still arrive', async (t) => {
  const h = await harness({ registrations: fleet(6, 1, 2), source: { hotWatches: 1, hotServices: () => ['svc-3'] } });
  t.after(() => h.close());
  await h.synced();
  await eventually(() => assert.ok(h.double.stats.parked() >= 4, 'four queries parked'), 'three wide watches and the hot one parked');
  const mark = h.double.stats.log().length;
  const delivered = h.deliveries().length;
  h.double.faults.resetIndex(5);
  // Every object's indexes drop to at most 5: the re-read sees that and delivers it.
  await h.delivered(delivered, (c) => assert.ok([...c.services.values()].every((s) => s.instances.every((i) => i.service.ModifyIndex <= 5)), 'every index at most 5'), 'the re-read catalog');
  for (const path of ['/v1/catalog/services', '/v1/health/state/any', '/v1/catalog/nodes', '/v1/health/service/svc-3']) {
    await eventually(() => assert.ok(h.double.stats.log().slice(mark).some((e) => e.path === path && e.query['index'] === undefined && e.query['filter'] !== 'Node.Node == ""'), `a plain read of ${path}`), `${path}: a plain read after the reset`);
  }
  assert.ok(h.logs.some((l) => l.msg.includes('went backwards')), 'the reset logged');
  const since = h.deliveries().length;
  h.double.setCheckStatus('haproxy-0', 'service:svc-4-0', 'critical');
  h.double.setCheckStatus('haproxy-1', 'service:svc-3-0', 'critical');
  await h.delivered(since, (c) => {
    assert.equal(statusOf(c, 'svc-4', 'service:svc-4-0'), 'critical');
    assert.equal(statusOf(c, 'svc-3', 'service:svc-3-0'), 'critical');
  }, 'changes after the reset');
  assert.deepEqual(h.double.stats.log().filter((e) => e.query['index'] === '0'), [], 'never index=0');
});

test('parked queries dropped by the network: retried at once, no outage reported', async (t) => {
  const h = await harness({ registrations: fleet(4, 1, 2), source: { hotWatches: 2, hotServices: () => ['svc-0', 'svc-1'] } });
  t.after(() => h.close());
  await h.synced();
  await eventually(() => assert.ok(h.double.stats.parked() >= 5, 'five queries parked'), 'watches parked');
  for (let i = 0; i < 3; i++) {
    h.double.faults.dropParked();
    await eventually(() => assert.ok(h.double.stats.parked() >= 5, 'five queries parked'), 'parked again');
  }
  assert.deepEqual(staleCalls(h), []);
  assert.equal(h.source.contact().reachable, true);
  h.double.setCheckStatus('haproxy-0', 'service:svc-0-0', 'critical');
  await h.delivered(0, (c) => assert.equal(statusOf(c, 'svc-0', 'service:svc-0-0'), 'critical'), 'a change after the drops');
});
