// DNS vectors 20-30 of Consul's behaviour (docs/consul-contract.md), asked with dig/kdig (real resolvers written by others)
// and again with a raw client whose replies dns-packet decodes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { answersOf, ask, dig, ips, kdig, optOf, startDns, type DnsServer, type Rec } from './support.ts';

let s: DnsServer;
before(async () => {
  s = await startDns();
});
after(() => s.close());

interface Srv {
  priority: number;
  weight: number;
  port: number;
  target: string;
}
const srvs = (answers: Rec[]): Srv[] => answers.filter((a) => a.type === 'SRV').map((a) => a.data as Srv);

describe('DNS vectors (docs/consul-contract.md)', () => {
  it('20: A without EDNS → NOERROR, AA, no RA, ≤3 records owned by the question, TTL 0, shuffled', async () => {
    const out = await dig(s.port, ['web.service.consul', 'A', '+noedns']);
    assert.match(out, /status: NOERROR/);
    assert.match(out, /flags: qr aa rd;/);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await ask(s.port, 'web.service.consul');
      assert.equal(r.msg.flag_aa, true);
      assert.equal(r.msg.flag_ra, false);
      const a = answersOf(r);
      assert.equal(a.length, 3);
      for (const rec of a) {
        assert.equal(rec.name, 'web.service.consul');
        assert.equal(rec.ttl, 0);
      }
      seen.add(a.map((x) => (x as { data: string }).data).join(','));
    }
    assert.ok(seen.size > 1, 'order and choice vary between queries');
  });

  it('21: SRV → priority 1, weight, port, node target with A (+ meta TXT) in ADDITIONAL; service address → hex .addr target', async () => {
    const r = await ask(s.port, 'web.service.consul', { type: 'SRV', edns: 4096 });
    const n1 = srvs(answersOf(r)).find((d) => d.target === 'n1.node.dc1.consul');
    assert.deepEqual(n1 && { ...n1 }, { priority: 1, weight: 1, port: 8080, target: 'n1.node.dc1.consul' });
    const add = r.msg.additionals ?? [];
    assert.ok(add.some((a) => a.type === 'A' && a.name === 'n1.node.dc1.consul' && a.data === '10.0.0.1'));
    assert.ok(add.some((a) => a.type === 'TXT' && a.name === 'n1.node.dc1.consul' && String((a.data as Buffer[])[0]) === 'rack=r1'));

    const api = await ask(s.port, 'api.service.consul', { type: 'SRV' });
    assert.deepEqual({ ...srvs(answersOf(api))[0]! }, { priority: 1, weight: 10, port: 9000, target: '0a000015.addr.dc1.consul' });
    assert.ok((api.msg.additionals ?? []).some((a) => a.type === 'A' && a.name === '0a000015.addr.dc1.consul' && a.data === '10.0.0.21'));

    const out = await kdig(s.port, ['api.service.consul', 'SRV', '+tcp']);
    assert.match(out, /1 10 9000 0a000015\.addr\.dc1\.consul\./);
  });

  it('SRV targets are written uncompressed (RFC 2782)', async () => {
    const r = await ask(s.port, 'web.service.consul', { type: 'SRV', edns: 1232 });
    // Find each SRV RDATA and check it holds no compression pointer.
    const raw = r.raw;
    let count = 0;
    for (let i = 0; i + 10 < raw.length; i++) {
      if (raw[i] === 0xc0 && raw[i + 1] === 0x0c && raw.readUInt16BE(i + 2) === 33) {
        const rdlen = raw.readUInt16BE(i + 10);
        const rdata = raw.subarray(i + 12, i + 12 + rdlen);
        let off = 6;
        while (rdata[off] !== 0) {
          assert.equal(rdata[off]! & 0xc0, 0, 'no pointer in the SRV target');
          off += rdata[off]! + 1;
        }
        assert.equal(off + 1, rdata.length);
        count++;
      }
    }
    assert.equal(count, 5);
  });

  it('22: _web._tcp equals the untagged SRV set; _web._v1 and v1.web select the tag', async () => {
    const targets = (r: Awaited<ReturnType<typeof ask>>) => srvs(answersOf(r)).map((d) => d.target).sort();
    const plain = await ask(s.port, 'web.service.consul', { type: 'SRV', edns: 4096 });
    const rfc = await ask(s.port, '_web._tcp.service.consul', { type: 'SRV', edns: 4096 });
    assert.deepEqual(targets(rfc), targets(plain));
    const short = await ask(s.port, '_web._tcp.consul', { type: 'SRV', edns: 4096 });
    assert.deepEqual(targets(short), targets(plain));
    const v1 = await ask(s.port, '_web._v1.service.consul', { type: 'SRV', edns: 4096 });
    assert.deepEqual(targets(v1), ['n1.node.dc1.consul', 'n2.node.dc1.consul']);
    const v1a = await ask(s.port, 'V1.web.service.dc1.consul', { edns: 4096 });
    assert.deepEqual(ips(v1a), ['10.0.0.1', '10.0.0.2']);
  });

  it('23: unknown service → NXDOMAIN with Consul’s SOA in AUTHORITY', async () => {
    const out = await dig(s.port, ['nosuch.service.consul', 'A']);
    assert.match(out, /status: NXDOMAIN/);
    assert.match(out, /consul\.\s+0\s+IN\s+SOA\s+ns\.consul\. hostmaster\.consul\. \d+ 3600 600 86400 0/);
    const r = await ask(s.port, 'nosuch.service.consul');
    assert.equal(r.rcode, 'NXDOMAIN');
    const soa = r.msg.authorities?.[0] as Rec;
    assert.equal(soa.type, 'SOA');
    assert.equal(soa.name, 'consul');
    assert.ok(Math.abs(soa.data.serial - Date.now() / 1000) < 60, 'serial is the current Unix time');
  });

  it('24: AAAA on an IPv4-only service → NODATA with SOA', async () => {
    const r = await ask(s.port, 'web.service.consul', { type: 'AAAA' });
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(answersOf(r).length, 0);
    assert.equal(r.msg.authorities?.[0]?.type, 'SOA');
    const v6 = await ask(s.port, 'v6.service.consul', { type: 'AAAA' });
    assert.deepEqual(ips(v6), ['fd00::1']);
  });

  it('25: all instances critical → NXDOMAIN; a warning instance is still returned with its warning weight', async () => {
    assert.match(await dig(s.port, ['sick.service.consul']), /status: NXDOMAIN/);
    const r = await ask(s.port, 'meh.service.consul');
    assert.deepEqual(ips(r), ['10.4.0.2']);
    const srv = await ask(s.port, 'meh.service.consul', { type: 'SRV' });
    assert.equal(srvs(answersOf(srv))[0]?.weight, 2);
  });

  it('26: node TXT → meta; ANY → A + TXT', async () => {
    const out = await dig(s.port, ['n1.node.consul', 'TXT', '+short']);
    assert.equal(out.trim(), '"rack=r1"');
    const any = await ask(s.port, 'n1.node.consul', { type: 'ANY' });
    assert.deepEqual(answersOf(any).map((a) => a.type).sort(), ['A', 'TXT']);
    const missing = await ask(s.port, 'nope.node.consul');
    assert.equal(missing.rcode, 'NXDOMAIN');
  });

  it('27: hex .addr → A with node_ttl', async () => {
    const r = await ask(s.port, 'c000020a.addr.dc1.consul');
    assert.deepEqual(ips(r), ['192.0.2.10']);
    assert.equal(answersOf(r)[0]?.ttl, 0);
    assert.equal((await ask(s.port, 'zz00020a.addr.dc1.consul')).rcode, 'NXDOMAIN');
  });

  it('28: case-insensitive; answers keep the question’s case', async () => {
    const upper = await ask(s.port, 'WEB.Service.CONSUL', { edns: 4096 });
    const lower = await ask(s.port, 'web.service.consul', { edns: 4096 });
    assert.deepEqual(ips(upper), ips(lower));
    assert.ok(answersOf(upper).every((a) => a.name === 'WEB.Service.CONSUL'));
    assert.equal(upper.msg.questions?.[0]?.name, 'WEB.Service.CONSUL');
  });

  it('29: a name outside the domain without recursors → REFUSED', async () => {
    assert.match(await dig(s.port, ['example.org', 'A']), /status: REFUSED/);
    assert.equal((await ask(s.port, 'example.org')).rcode, 'REFUSED');
  });

  it('30: EDNS 4096 → more than 3 records, OPT echoing 4096, TC clear; TCP → all 20', async () => {
    const r = await ask(s.port, 'big.service.consul', { edns: 4096 });
    assert.equal(ips(r).length, 20);
    assert.equal(r.msg.flag_tc, false);
    assert.equal(optOf(r)?.udpPayloadSize, 4096);
    const t = await ask(s.port, 'big.service.consul', { tcp: true });
    assert.equal(ips(t).length, 20);
    const out = await dig(s.port, ['big.service.consul', '+tcp', '+short']);
    assert.equal(out.trim().split('\n').length, 20);
  });
});
