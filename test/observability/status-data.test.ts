// The status page's data (assembleStatus, called directly on a Discovery built through test/support
// on the demo world), its HTML (every value escaped) and its token rules on the admin listener.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TARGET_REASON } from '../../src/decision/decide.ts';
import { assembleStatus, type StatusData } from '../../src/admin/status-data.ts';
import { renderStatusPage } from '../../src/admin/status-html.ts';
import { testApp, type TestApp } from '../support/app.ts';
import { eventually } from '../support/eventually.ts';
import { expectedCounts, loadDemoWorld } from './demo-world.ts';
import { adminRequest } from './scrape.ts';

const PRODUCTPAGE = '127.0.0.10';
const FRONTEND = '127.0.0.11';
const ACTOR = { actor: 'alice via test', reason: 'checking the v2 rollout' };

async function demoApp(propagationDelayMs: number, config: { adminToken?: string } = {}): Promise<TestApp> {
  const { consul, kube } = loadDemoWorld();
  return testApp({ world: { consul, kube }, sidecars: { enabled: true, quietPeriodMs: 10, maxDelayMs: 50, propagationDelayMs }, config, listen: config.adminToken !== undefined });
}

function status(t: TestApp, maxPairs?: number): StatusData {
  const { app } = t;
  return assembleStatus({
    world: app.core.world.current,
    kubeStale: app.core.world.kubeStale,
    control: app.core.control.status(),
    evaluate: (caller, service) => app.core.lookups.evaluate(caller, service).decision,
    describePair: (caller, service) => app.gate.describe(caller, service),
    ready: true,
    readyDetail: { sources: app.feed.status() },
    sidecars: { enabled: true, status: app.scoping!.status() },
    now: new Date('2026-12-05T06:00:00Z'),
    ...(maxPairs !== undefined ? { maxPairs } : {}),
  });
}

const service = (d: StatusData, name: string) => d.services.find((s) => s.name === name)!;

test('counts and reason codes of the demo world are the world model\'s', async () => {
  const t = await demoApp(50);
  const { world } = loadDemoWorld();
  const d = status(t);
  assert.deepEqual(d.counts, expectedCounts(world));
  assert.deepEqual(d.counts, { total: 10, 'consul-only': 3, mapped: 2, meshed: 4, blocked: 1 }, 'the demo README: 3 Consul only, ratings and inventory mapped, 4 meshed, payments ambiguous');
  for (const [key, target] of world.targets) {
    const row = service(d, world.consul.services.get(key)!.name);
    assert.equal(row.status, target.status, key);
    if (target.status !== 'meshed') {
      const reason = TARGET_REASON[target.status];
      assert.equal(row.reason, reason);
      assert.ok(d.reasons.find((r) => r.reason === reason)?.services.includes(row.name), `${key} listed under ${reason}`);
    }
  }
  const meshedCallers = [...world.callers.values()].filter((c) => c.pod.meshed);
  assert.deepEqual(d.callers, { known: world.callers.size, meshed: meshedCallers.length, workloads: new Set(meshedCallers.map((c) => c.workload)).size });
  assert.deepEqual(d.sources.map((s) => [s.name, s.synced]), [['test-consul', true], ['test-kube', true]]);
  assert.ok(d.problems.some((p) => p.kind === 'mapping-ambiguous' && p.subject === 'payments'));
  const explainFrom = d.actions.map((a) => /^discovery explain payments --from (\S+)$/.exec(a.command)?.[1]).find((ip) => ip !== undefined);
  assert.ok(explainFrom && world.callers.get(explainFrom)?.pod.meshed, `the blocked service comes with its explain command from a meshed caller (${explainFrom})`);
  assert.ok(d.actions.some((a) => a.command === 'discovery killswitch on --reason "TEXT"'));
  await t.stop();
});

test('per service: the callers that get mesh answers, those waiting for their Sidecar, pinned ones', async () => {
  const t = await demoApp(400);
  let d = status(t);
  for (const name of ['reviews', 'details', 'search', 'productpage']) assert.deepEqual(service(d, name).callers, { mesh: [], pending: [], pinned: [] }, `${name}: nobody asked yet`);
  assert.equal(service(d, 'ratings').callers, null, 'not meshed: no caller list');

  t.app.core.lookups.lookup(PRODUCTPAGE, 'reviews', 'http');
  t.app.core.lookups.lookup(FRONTEND, 'details', 'dns');
  await t.app.scoping!.flush();
  d = status(t);
  assert.deepEqual(service(d, 'reviews').callers?.pending, ['bookinfo/productpage'], 'written, not propagated yet');
  assert.deepEqual(service(d, 'details').callers?.pending, ['shop/frontend']);
  assert.equal(d.pairs.pending, 2);
  assert.ok(d.actions.some((a) => a.command === 'discovery sidecars -n bookinfo -o yaml'));

  await eventually(() => assert.deepEqual(service(status(t), 'reviews').callers?.mesh, ['bookinfo/productpage']), 'reviews flips to the mesh for productpage');
  await eventually(() => assert.deepEqual(service(status(t), 'details').callers?.mesh, ['shop/frontend']), 'details flips for frontend');
  d = status(t);
  assert.deepEqual(service(d, 'reviews').callers?.pending, []);
  assert.equal(d.pairs.ready, 2);
  assert.equal(d.sidecars.managed, 2);

  await t.app.core.control.pin('details', 'shop/frontend', ACTOR);
  await t.app.core.control.pin('reviews', undefined, ACTOR);
  d = status(t);
  assert.deepEqual(service(d, 'details').callers, { mesh: [], pending: [], pinned: ['shop/frontend'] });
  assert.equal(service(d, 'reviews').category, 'blocked');
  assert.equal(service(d, 'reviews').reason, 'pinned');
  assert.deepEqual(service(d, 'reviews').callers, { mesh: [], pending: [], pinned: [] }, 'a pin of the whole service is not listed caller by caller');
  assert.deepEqual(d.counts, { total: 10, 'consul-only': 3, mapped: 2, meshed: 3, blocked: 2 });
  assert.deepEqual(d.control.pins.map((p) => [p.service, p.caller ?? null, p.actor, p.reason]), [['details', 'shop/frontend', ACTOR.actor, ACTOR.reason], ['reviews', null, ACTOR.actor, ACTOR.reason]].sort());
  assert.ok(d.actions.some((a) => a.command === 'discovery unpin details --caller shop/frontend --reason "TEXT"'));
  assert.ok(d.actions.some((a) => a.command === 'discovery unpin reviews --reason "TEXT"'));

  await t.app.core.control.setMode('shadow', ACTOR);
  d = status(t);
  assert.ok(d.actions.some((a) => a.command === 'discovery mode hybrid --reason "TEXT"'));
  await t.app.core.control.setMode('consul-only', ACTOR);
  d = status(t);
  assert.equal(d.control.mode, 'consul-only');
  assert.equal(d.control.changedBy, ACTOR.actor);
  assert.deepEqual(service(d, 'search').callers, { mesh: [], pending: [], pinned: [] }, 'kill-switch: nobody gets the mesh');
  assert.ok(d.actions.some((a) => a.command === 'discovery killswitch off --reason "TEXT"'));

  assert.equal(status(t, 3).pairs.truncated, true, 'a page over the pair budget says so');
  await t.stop();
});

test('the HTML escapes every value: a pin reason cannot add markup', async () => {
  const t = await demoApp(50);
  await t.app.core.control.pin('search', undefined, { actor: 'mallory <b>', reason: '<script>alert("x")</script> & more' });
  const page = renderStatusPage(status(t));
  assert.ok(!page.includes('<script>'), 'no script element');
  assert.ok(!page.includes('mallory <b>') && page.includes('mallory &lt;b&gt;'), 'no markup from the actor');
  assert.ok(page.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more'), 'the reason is shown, escaped');
  assert.match(page, /data-count="meshed"><b>3<\/b>/, 'search pinned for every caller: 3 meshed');
  await t.stop();
});

test('token rules: bearer for the API, a sign-in form and a derived cookie for the page; the token never in a page', async () => {
  const token = 'status-page-test-token-5d1c';
  const t = await demoApp(50, { adminToken: token });
  const unauth = await adminRequest(t.app, '/status');
  assert.equal(unauth.status, 401);
  const form = await unauth.text();
  assert.match(form, /<form method="post" action="\/status\/login">/);
  assert.equal((await adminRequest(t.app, '/v1/status')).status, 401);
  const json = await adminRequest(t.app, '/v1/status', { token });
  assert.equal(json.status, 200);
  assert.deepEqual(((await json.json()) as StatusData).counts, { total: 10, 'consul-only': 3, mapped: 2, meshed: 4, blocked: 1 });

  const login = (value: string) => adminRequest(t.app, '/status/login', { method: 'POST', raw: { type: 'application/x-www-form-urlencoded', body: `token=${encodeURIComponent(value)}` } });
  const wrong = await login('nope');
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /data-login="failed"/);
  const ok = await login(token);
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), '/status');
  const setCookie = ok.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /^discovery_status=[^;]+; Path=\/status; HttpOnly; SameSite=Strict/);
  assert.ok(!setCookie.includes(token), 'the cookie is not the token');
  const cookie = setCookie.slice(0, setCookie.indexOf(';'));

  const page = await adminRequest(t.app, '/status', { cookie });
  assert.equal(page.status, 200);
  const body = await page.text();
  assert.match(body, /Discovery status/);
  assert.ok(!body.includes(token) && !body.includes(cookie.slice(cookie.indexOf('=') + 1)), 'neither the token nor the cookie value in the page');
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  // The cookie opens the page only: not the control API, not even for reading.
  assert.equal((await adminRequest(t.app, '/v1/control', { cookie })).status, 401);
  assert.equal((await adminRequest(t.app, '/v1/status', { cookie })).status, 401);
  assert.equal((await adminRequest(t.app, '/status', { cookie: 'discovery_status=forged' })).status, 401);
  // Form data is taken by the sign-in route only.
  const formPin = await adminRequest(t.app, '/v1/pins', { method: 'PUT', token, raw: { type: 'application/x-www-form-urlencoded', body: 'service=reviews&reason=x' } });
  assert.equal(formPin.status, 415);
  await t.stop();
});
