// One change wakes many parked queries at once, and queries of the same caller and shape share one
// evaluation within that pass. Every woken query must still get exactly what a fresh request of
// the same path from the same caller gets right after the change: status, body, index and headers,
// per caller (meshed and unmeshed callers of the same service get different answers), and each
// answered query still counts as one lookup.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { catalog, standardWorld } from '../support/world-fixtures.ts';
import { call, indexOf, MESHED, startServer, UNMESHED, type Res, type Server } from './support.ts';
import { eventually } from '../support/eventually.ts';

let s: Server;
before(async () => {
  s = await startServer();
});
after(() => s.close());

/** standardWorld with reviews' HAProxy instances moved and a third one added: reviews' Consul data changes. */
function reviewsMoved() {
  const w = standardWorld();
  return {
    consul: catalog([
      { service: 'reviews', node: 'haproxy-reviews-1', address: '10.1.9.1', port: 9080, tags: ['v1', 'primary'] },
      { service: 'reviews', node: 'haproxy-reviews-2', address: '10.1.9.2', port: 9080, tags: ['v1'] },
      { service: 'reviews', node: 'haproxy-reviews-3', address: '10.1.9.3', port: 9080, tags: ['v2'], meta: { pad: 'x'.repeat(1500) } },
      { service: 'ratings', node: 'haproxy-ratings-1', address: '10.1.1.1', port: 9080 },
      { service: 'details', node: 'haproxy-details-1', address: '10.1.2.1', port: 9080 },
    ]),
    kube: w.kube,
  };
}

interface Query {
  readonly from: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
}

const QUERIES: readonly Query[] = [
  // Same caller, same shape: shared.
  { from: MESHED, path: '/v1/health/service/reviews' },
  { from: MESHED, path: '/v1/health/service/reviews' },
  { from: MESHED, path: '/v1/health/service/reviews', headers: { 'accept-encoding': 'gzip' } }, // too small to compress
  { from: MESHED, path: '/v1/health/service/reviews?stale' },
  { from: UNMESHED, path: '/v1/health/service/reviews' },
  { from: UNMESHED, path: '/v1/health/service/reviews', headers: { 'accept-encoding': 'gzip' } },
  { from: UNMESHED, path: '/v1/health/service/Reviews' },
  { from: UNMESHED, path: '/v1/health/service/reviews?tag=v2' },
  { from: MESHED, path: '/v1/health/service/reviews?tag=v2' },
  { from: UNMESHED, path: '/v1/catalog/service/reviews' },
  { from: MESHED, path: '/v1/health/checks/reviews' },
  // Errors reported after the wait, each with its own message.
  { from: UNMESHED, path: '/v1/health/service/reviews?filter=' + encodeURIComponent('Service.Port ==') },
  { from: UNMESHED, path: '/v1/health/service/reviews?filter=' + encodeURIComponent('Node.Node !=') },
  { from: UNMESHED, path: '/v1/health/service/reviews?passing=maybe' },
  { from: UNMESHED, path: '/v1/health/service/reviews?passing=perhaps' },
];

function withIndex(path: string, index: number): string {
  return `${path}${path.includes('?') ? '&' : '?'}index=${index}&wait=30s`;
}

/** The reply as a client sees it, without the Date header (it moves with the clock). */
function comparable(r: Res): { status: number; body: string; headers: Array<[string, string]> } {
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    if (name !== 'date') headers.push([name, r.rawHeaders[i + 1]!]);
  }
  return { status: r.status, body: r.body, headers };
}

async function httpAnswers(): Promise<number> {
  const m = await s.core.registry.getSingleMetric('discovery_answers_total')!.get();
  return m.values.filter((v) => v.labels['via'] === 'http').reduce((n, v) => n + v.value, 0);
}

test('every query woken by one change gets what a fresh request gets, per caller, and counts as one lookup', async (t) => {
  t.after(() => s.core.setWorld(standardWorld()));
  const firsts = await Promise.all(QUERIES.map((q) => call(s.port, q.path, { from: q.from, headers: q.headers })));
  // A query that fails (bad filter or ?passing) waits like the others: its index is its caller's.
  const unmeshedIndex = indexOf(firsts[4]!);
  const indexes = firsts.map((r) => (r.status === 200 ? indexOf(r) : unmeshedIndex));
  const parked = QUERIES.map((q, i) => call(s.port, withIndex(q.path, indexes[i]!), { from: q.from, headers: q.headers }));
  await eventually(() => assert.equal(s.front.waiting(), QUERIES.length), 'all parked');
  const answersBefore = await httpAnswers();

  s.core.setWorld(reviewsMoved());
  const woken = await Promise.all(parked);
  assert.equal(s.front.waiting(), 0);
  assert.equal((await httpAnswers()) - answersBefore, QUERIES.length, 'each woken query is one lookup');

  const fresh = await Promise.all(QUERIES.map((q) => call(s.port, q.path, { from: q.from, headers: q.headers })));
  for (const [i, q] of QUERIES.entries()) {
    assert.deepEqual(comparable(woken[i]!), comparable(fresh[i]!), `${q.from} ${q.path} ${JSON.stringify(q.headers ?? {})}`);
    if (woken[i]!.status === 200) assert.ok(indexOf(woken[i]!) > indexes[i]!, `${q.path}: index moved`);
  }
  // Per caller: the meshed caller gets the ClusterIP, the unmeshed one Consul's instances.
  assert.notEqual(woken[0]!.body, woken[4]!.body);
  assert.equal(woken[0]!.body, woken[1]!.body);
  assert.equal(woken[5]!.headers['content-encoding'], 'gzip');
  assert.equal(woken[3]!.headers['x-consul-effective-consistency'], 'stale');
  assert.equal(woken[0]!.headers['x-consul-effective-consistency'], 'leader');
  // Consul answers a filter it cannot parse with 500, a bad ?passing with 400.
  assert.deepEqual(woken.slice(11).map((r) => r.status), [500, 500, 400, 400]);
  assert.notEqual(woken[11]!.body, woken[12]!.body);
  assert.equal(woken[13]!.status, 400);
});

test('a query whose index has not moved stays parked while its neighbours of the same caller answer', async (t) => {
  t.after(() => s.core.setWorld(standardWorld()));
  const first = await call(s.port, '/v1/health/service/reviews', { from: UNMESHED });
  const ahead = call(s.port, withIndex('/v1/health/service/reviews', indexOf(first) + 1_000_000), { from: UNMESHED });
  const current = call(s.port, withIndex('/v1/health/service/reviews', indexOf(first)), { from: UNMESHED });
  await eventually(() => assert.equal(s.front.waiting(), 2), 'both parked');
  s.core.setWorld(reviewsMoved());
  const r = await current;
  assert.ok(indexOf(r) > indexOf(first));
  assert.equal(s.front.waiting(), 1, 'the query ahead of the current index keeps waiting');
  s.front.drain();
  const late = await ahead;
  assert.equal(indexOf(late), indexOf(r));
  assert.equal(late.body, r.body);
});
