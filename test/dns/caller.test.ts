// The per-caller choice over DNS: the same decision as HTTP, by source address (or by ECS from a
// trusted resolver), visible at once after a kill-switch or migration flip, recorded as observations.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { MESHED, UNMESHED, UNKNOWN, ask, dig, dnsWorld, ips, optOf, startDns, type DnsServer } from './support.ts';
import { kube, kubeService, pod, slice } from '../support/world-fixtures.ts';

let s: DnsServer;
before(async () => {
  s = await startDns({ dns: { trustedEcsResolvers: ['127.0.0.53'] } });
});
after(() => s.close());

function resolver(from: string): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${s.port}`]);
  r.setLocalAddress(from);
  return r;
}

describe('DNS per-caller answers', () => {
  it('c-ares: a meshed caller gets the ClusterIP, an unmeshed one HAProxy', async () => {
    assert.deepEqual(await resolver(MESHED).resolve4('reviews.service.consul'), ['10.96.0.10']);
    assert.deepEqual((await resolver(UNMESHED).resolve4('reviews.service.consul')).sort(), ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual((await resolver(UNKNOWN).resolve4('reviews.service.consul')).sort(), ['10.1.0.1', '10.1.0.2']);
    const srv = await resolver(MESHED).resolveSrv('reviews.service.consul');
    assert.deepEqual(srv, [{ name: '0a60000a.addr.dc1.consul', port: 9080, priority: 1, weight: 1 }]);
  });

  it('dig -b: the meshed SRV answer is the Service port with the ClusterIP in ADDITIONAL; mesh TTL 0', async () => {
    const out = await dig(s.port, ['-b', MESHED, 'reviews.service.consul', 'SRV']);
    assert.match(out, /reviews\.service\.consul\.\s+0\s+IN\s+SRV\s+1 1 9080 0a60000a\.addr\.dc1\.consul\./);
    assert.match(out, /0a60000a\.addr\.dc1\.consul\.\s+0\s+IN\s+A\s+10\.96\.0\.10/);
    const plain = await dig(s.port, ['-b', UNMESHED, 'reviews.service.consul', 'SRV']);
    assert.match(plain, /haproxy-reviews-1\.node\.dc1\.consul\./);
  });

  it('every lookup is an observation, like an HTTP lookup', async () => {
    s.core.observations.length = 0;
    await ask(s.port, 'reviews.service.consul', { from: MESHED });
    await ask(s.port, 'reviews.service.consul', { from: MESHED, type: 'SRV' });
    await ask(s.port, 'reviews.service.consul', { from: UNMESHED });
    assert.equal(s.core.observations.length, 2);
    assert.ok(s.core.observations.every((o) => o.via === 'dns' && o.service === 'reviews' && o.caller.ip === MESHED));
  });

  it('ECS names the caller only from a trusted resolver, and then scopes the answer to the full address', async () => {
    const trusted = await ask(s.port, 'reviews.service.consul', { from: '127.0.0.53', edns: 1232, ecs: { ip: MESHED, prefix: 32 } });
    assert.deepEqual(ips(trusted), ['10.96.0.10']);
    const ecs = optOf(trusted)?.options?.find((o) => o.code === 8);
    assert.equal(ecs?.sourcePrefixLength, 32);
    assert.equal(ecs?.scopePrefixLength, 32);
    const trustedUnmeshed = await ask(s.port, 'reviews.service.consul', { from: '127.0.0.53', edns: 1232, ecs: { ip: UNMESHED, prefix: 32 } });
    assert.deepEqual(ips(trustedUnmeshed), ['10.1.0.1', '10.1.0.2']);
    // An untrusted source claiming to be the meshed Pod is answered for its own address.
    const spoof = await ask(s.port, 'reviews.service.consul', { from: UNMESHED, edns: 1232, ecs: { ip: MESHED, prefix: 32 } });
    assert.deepEqual(ips(spoof), ['10.1.0.1', '10.1.0.2']);
    assert.equal(optOf(spoof)?.options?.find((o) => o.code === 8)?.scopePrefixLength, 0);
    // The same through dig's +subnet from the trusted address.
    const out = await dig(s.port, ['-b', '127.0.0.53', `+subnet=${MESHED}/32`, 'reviews.service.consul', '+short']);
    assert.equal(out.trim(), '10.96.0.10');
  });

  it('kill-switch and migration flips show in DNS answers at once', async () => {
    const who = { actor: 'test', reason: 'flip' };
    assert.deepEqual(ips(await ask(s.port, 'reviews.service.consul', { from: MESHED })), ['10.96.0.10']);
    await s.core.control.setMode('consul-only', who);
    assert.deepEqual(ips(await ask(s.port, 'reviews.service.consul', { from: MESHED })), ['10.1.0.1', '10.1.0.2']);
    await s.core.control.setMode('hybrid', who);
    assert.deepEqual(ips(await ask(s.port, 'reviews.service.consul', { from: MESHED })), ['10.96.0.10']);

    // ratings migrates: a Service with meshed endpoints appears.
    const w = dnsWorld();
    const k = kube({
      ...w.kube,
      services: [...w.kube.services, kubeService('bookinfo', 'ratings', '10.96.0.12', [{ name: 'http', port: 9080 }])],
      endpointSlices: [...w.kube.endpointSlices, slice('bookinfo', 'ratings', [{ pod: 'ratings-v1-abc', ip: '10.244.0.7' }])],
      pods: [...w.kube.pods, pod('bookinfo', 'ratings-v1-abc', '10.244.0.7', { meshed: true, workload: 'ratings-v1' })],
    });
    assert.deepEqual(ips(await ask(s.port, 'ratings.service.consul', { from: MESHED })), ['10.1.1.1']);
    s.core.setWorld({ kube: k });
    assert.deepEqual(ips(await ask(s.port, 'ratings.service.consul', { from: MESHED })), ['10.96.0.12']);
    assert.deepEqual(ips(await ask(s.port, 'ratings.service.consul', { from: UNMESHED })), ['10.1.1.1']);
    // A Consul change (an instance goes critical) is seen at once too.
    s.core.setWorld({ kube: w.kube });
    assert.deepEqual(ips(await ask(s.port, 'ratings.service.consul', { from: MESHED })), ['10.1.1.1']);
  });

  it('a pin sends one target back to HAProxy', async () => {
    await s.core.control.pin('reviews', undefined, { actor: 'test', reason: 'rollback' });
    assert.deepEqual(ips(await ask(s.port, 'reviews.service.consul', { from: MESHED })), ['10.1.0.1', '10.1.0.2']);
    await s.core.control.unpin('reviews', undefined, { actor: 'test', reason: 'done' });
    assert.deepEqual(ips(await ask(s.port, 'reviews.service.consul', { from: MESHED })), ['10.96.0.10']);
  });
});
