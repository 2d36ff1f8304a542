// Size limits, truncation, TTLs and the other DNS settings, each against Consul's rules.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';
import { answersOf, ask, dig, ips, optOf, startDns } from './support.ts';

describe('DNS size limits and settings', () => {
  it('UDP without EDNS: 3 answers, ≤512 bytes; EDNS: capped by maxUdpSize with OPT echoing the client size', async () => {
    const s = await startDns();
    try {
      const plain = await ask(s.port, 'big.service.consul');
      assert.equal(ips(plain).length, 3);
      assert.ok(plain.raw.length <= 512);
      assert.equal(plain.msg.flag_tc, false, 'Consul trims silently unless enable_truncate');
      const srv = await ask(s.port, 'big.service.consul', { type: 'SRV' });
      assert.ok(srv.raw.length <= 512);
      assert.ok(answersOf(srv).length <= 3);
      // Every additional A matches a remaining SRV target.
      const targets = new Set(answersOf(srv).map((a) => String(a.data.target)));
      for (const a of srv.msg.additionals ?? []) if (a.type === 'A') assert.ok(targets.has(a.name));
      const huge = await ask(s.port, 'big.service.consul', { type: 'SRV', edns: 65000 });
      assert.ok(huge.raw.length <= 1232, `${huge.raw.length} bytes`);
      assert.equal(optOf(huge)?.udpPayloadSize, 65000);
    } finally {
      await s.close();
    }
  });

  it('enable_truncate sets TC on trimmed UDP answers and the OPT record stays; TCP gets everything', async () => {
    const s = await startDns({ dns: { enableTruncate: true, maxUdpSize: 512 } });
    try {
      const r = await ask(s.port, 'big.service.consul', { type: 'SRV', edns: 4096 });
      assert.equal(r.msg.flag_tc, true);
      assert.ok(optOf(r), 'OPT present on a truncated reply (RFC 6891 §7)');
      assert.ok(r.raw.length <= 512);
      const t = await ask(s.port, 'big.service.consul', { type: 'SRV', tcp: true });
      assert.equal(answersOf(t).length, 20);
      // dig retries over TCP after TC and shows all 20.
      const out = await dig(s.port, ['big.service.consul', 'SRV', '+short', '+bufsize=512']);
      assert.equal(out.trim().split('\n').length, 20);
    } finally {
      await s.close();
    }
  });

  it('service_ttl (exact beats longest prefix*), node_ttl, mesh TTL, only_passing, a_record_limit', async () => {
    const s = await startDns({ dns: { serviceTtl: { '*': 5, 'b*': 7, big: 9, 'we*': 11 }, nodeTtl: 13, meshTtl: 3, onlyPassing: true, aRecordLimit: 2 } });
    try {
      assert.equal(answersOf(await ask(s.port, 'big.service.consul'))[0]?.ttl, 9);
      assert.equal(answersOf(await ask(s.port, 'web.service.consul'))[0]?.ttl, 11);
      assert.equal(answersOf(await ask(s.port, 'api.service.consul'))[0]?.ttl, 5);
      assert.equal(answersOf(await ask(s.port, 'n1.node.consul'))[0]?.ttl, 13);
      assert.equal(answersOf(await ask(s.port, 'reviews.service.consul', { from: '127.0.0.10' }))[0]?.ttl, 3);
      assert.equal((await ask(s.port, 'meh.service.consul')).rcode, 'NXDOMAIN', 'warning dropped with only_passing');
      assert.equal(ips(await ask(s.port, 'big.service.consul', { tcp: true })).length, 2);
    } finally {
      await s.close();
    }
  });

  it('alt domain answers identically, with targets in the asked domain', async () => {
    const s = await startDns({ dns: { altDomain: 'alt.example.' } });
    try {
      const r = await ask(s.port, 'web.service.alt.example', { type: 'SRV', edns: 1232 });
      assert.ok(answersOf(r).every((a) => String(a.data.target).endsWith('.node.dc1.alt.example')));
      assert.equal((await ask(s.port, 'nosuch.service.alt.example')).msg.authorities?.[0]?.name, 'alt.example');
    } finally {
      await s.close();
    }
  });

  it('recursors: other names forwarded in order (a dead one skipped), RA set; all failing → SERVFAIL', async () => {
    const fake = createSocket('udp4');
    fake.on('message', (m, r) => {
      const q = packet.decode(m);
      fake.send(packet.encode({ type: 'response', id: q.id, flags: packet.RECURSION_AVAILABLE, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '192.0.2.99' }] }), r.port, r.address);
    });
    await new Promise<void>((r) => fake.bind(0, '127.0.0.1', r));
    const dead = createSocket('udp4');
    await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r));
    const s = await startDns({ dns: { recursors: [`127.0.0.1:${dead.address().port}`, `127.0.0.1:${fake.address().port}`], recursorTimeoutMs: 200 } });
    const broken = await startDns({ dns: { recursors: [`127.0.0.1:${dead.address().port}`], recursorTimeoutMs: 100 } });
    try {
      const r = await ask(s.port, 'example.org');
      assert.deepEqual(ips(r), ['192.0.2.99']);
      assert.equal((await ask(s.port, 'web.service.consul')).msg.flag_ra, true);
      const f = await ask(broken.port, 'example.org');
      assert.equal(f.rcode, 'SERVFAIL');
      assert.equal(f.msg.flag_ra, true);
    } finally {
      await s.close();
      await broken.close();
      fake.close();
      dead.close();
    }
  });

  it('SOA and NS anywhere in the domain; AXFR → NOTIMP; the apex has NODATA for A', async () => {
    const s = await startDns();
    try {
      const soa = await ask(s.port, 'web.service.consul', { type: 'SOA' });
      assert.equal(answersOf(soa)[0]?.type, 'SOA');
      assert.equal(soa.msg.authorities?.[0]?.type, 'NS');
      const ns = await ask(s.port, 'consul', { type: 'NS' });
      assert.equal(answersOf(ns)[0]?.data, 'discovery.node.dc1.consul');
      assert.equal((await ask(s.port, 'consul', { type: 'AXFR' as 'A' })).rcode, 'NOTIMP');
      const apex = await ask(s.port, 'consul');
      assert.equal(apex.rcode, 'NOERROR');
      assert.equal(apex.msg.authorities?.[0]?.type, 'SOA');
      assert.equal((await ask(s.port, 'web.service.dc2.consul')).rcode, 'NXDOMAIN', 'unknown datacenter');
      assert.equal((await ask(s.port, 'foo.bar.consul')).rcode, 'NXDOMAIN');
    } finally {
      await s.close();
    }
  });
});
