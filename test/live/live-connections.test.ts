// A replica's connections to the upstream agent count against Consul's per-client-address limit
// (http_max_conns_per_client, 200 by default), shared by everything the replica sends. Discovery's
// own requests (catalog watches, the control key, the ACL probes of callers' tokens) stay within
// live.max-upstream-connections however many callers arrive at once.

import assert from 'node:assert/strict';
import test from 'node:test';
import { eventually } from '../support/eventually.ts';
import { UNMESHED_CALLER, request, startDoubles, startReplica } from './live-harness.ts';

test('live: a burst of callers with tokens to check does not take the replica past its own connection budget', async () => {
  const d = await startDoubles();
  const r = await startReplica(d, 'replica-a', { 'live.max-upstream-connections': '24' });
  try {
    await eventually(async () => assert.equal((await request(r.adminUrl(), '/readyz')).status, 200, 'ready'), 'ready');
    d.consul.stats.reset();
    // The upstream holds every request for a moment, so the probes of 80 callers with tokens the
    // replica has not checked yet are all wanted at once.
    d.consul.faults.hang(true);
    const pending = Promise.all(Array.from({ length: 80 }, (_, i) => request(r.httpUrl(), '/v1/health/service/reviews', { from: UNMESHED_CALLER, headers: { 'X-Consul-Token': `caller-token-${i}` } })));
    await eventually(() => assert.ok(d.consul.stats.openConnections() >= 4, 'probes reach the upstream'), 'the first probes to arrive');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const held = d.consul.stats.maxOpenConnections();
    d.consul.faults.hang(false);
    const answers = await pending;
    assert.ok(answers.every((a) => a.status === 403), 'unknown tokens get the upstream\'s own 403');
    const probes = d.consul.stats.log().filter((e) => e.path === '/v1/health/service/reviews' && e.token?.startsWith('caller-token-') && 'stale' in e.query);
    assert.equal(probes.length, 80, 'every token was checked upstream');
    assert.ok(held <= 24, `while the probes wait, at most Discovery's own 24 connections, saw ${held}`);
    // Discovery's own 24, plus the 8 sockets of callers' non-blocking passthrough (their 403s come from upstream).
    assert.ok(d.consul.stats.maxOpenConnections() <= 24 + 8, `at most 32 connections at once, saw ${d.consul.stats.maxOpenConnections()}`);
  } finally {
    await r.stop();
    await d.close();
  }
});
