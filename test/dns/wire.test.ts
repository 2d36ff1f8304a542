// The hand-written record writer and the name grammar, checked against dns-packet's decoder.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as packet from 'dns-packet';
import { parseName } from '../../src/frontends/dns/names.ts';
import { metaTxt, serviceTtl } from '../../src/frontends/dns/records.ts';
import { TYPE, ipv6Bytes, nameWire, rr, srvRdata, txtRdata } from '../../src/frontends/dns/wire.ts';
import { formatIpv6 } from '../../src/frontends/dns/ecs.ts';
import { isIPv6 } from 'node:net';

const g = { domains: ['consul.'], datacenter: 'dc1' };
const p = (name: string, qtype: number = TYPE.A) => parseName(name.split('.'), qtype, g);

function message(records: Buffer[]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x8400, 2);
  h.writeUInt16BE(records.length, 6);
  return Buffer.concat([h, ...records]);
}

describe('DNS wire writer', () => {
  it('SRV, TXT and AAAA records decode with dns-packet', () => {
    const owner = nameWire('web.service.consul.');
    const m = packet.decode(
      message([
        rr(owner, TYPE.SRV, 5, srvRdata(1, 7, 8080, nameWire('n1.node.dc1.consul.'))),
        rr(owner, TYPE.TXT, 0, txtRdata(['a=b', 'x'.repeat(300)])),
        rr(owner, TYPE.AAAA, 0, ipv6Bytes('fd00::1')),
      ]),
    );
    const [srv, txt, aaaa] = m.answers as Array<{ type: string; data: unknown; ttl: number }>;
    assert.deepEqual(srv?.data, { priority: 1, weight: 7, port: 8080, target: 'n1.node.dc1.consul' });
    assert.equal(srv?.ttl, 5);
    assert.equal((txt?.data as Buffer[]).map(String).join(''), `a=b${'x'.repeat(300)}`);
    assert.equal(aaaa?.data, 'fd00::1');
  });

  it('IPv6 text and bytes round-trip', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        fc.pre(isIPv6(ip));
        const text = formatIpv6(ipv6Bytes(ip));
        assert.deepEqual(ipv6Bytes(text), ipv6Bytes(ip));
      }),
    );
  });

  it('names: too long labels are refused', () => {
    assert.throws(() => nameWire(`${'a'.repeat(64)}.consul`));
  });
});

describe('DNS name grammar', () => {
  it('parses every Consul form', () => {
    assert.deepEqual(p('web.service.consul'), { kind: 'service', domain: 'consul.', service: 'web', tag: null });
    assert.deepEqual(p('a.b.web.service.dc1.consul'), { kind: 'service', domain: 'consul.', service: 'web', tag: 'a.b' });
    assert.deepEqual(p('_web._tcp.service.consul', TYPE.SRV), { kind: 'service', domain: 'consul.', service: 'web', tag: null });
    assert.deepEqual(p('_web._v1.consul', TYPE.SRV), { kind: 'service', domain: 'consul.', service: 'web', tag: 'v1' });
    assert.deepEqual(p('_web._v1.dc1.consul', TYPE.SRV), { kind: 'service', domain: 'consul.', service: 'web', tag: 'v1' });
    assert.deepEqual(p('web.service.dc1.dc.consul'), { kind: 'service', domain: 'consul.', service: 'web', tag: null });
    assert.deepEqual(p('my.node.name.node.consul'), { kind: 'node', domain: 'consul.', node: 'my.node.name' });
    assert.deepEqual(p('0a000001.addr.dc1.consul'), { kind: 'addr', domain: 'consul.', hex: '0a000001' });
    assert.equal(p('web.service.dc2.consul').kind, 'nxdomain');
    assert.equal(p('service.consul').kind, 'nxdomain');
    assert.equal(p('consul').kind, 'apex');
    assert.equal(p('example.org').kind, 'outside');
  });

  it('service_ttl and node meta TXT follow Consul', () => {
    assert.equal(serviceTtl({ '*': 1, 'we*': 2, web: 3 }, 'web'), 3);
    assert.equal(serviceTtl({ '*': 1, 'w*': 2, 'we*': 4 }, 'web'), 4);
    assert.equal(serviceTtl({ '*': 1 }, 'x'), 1);
    assert.equal(serviceTtl({}, 'x'), 0);
    assert.deepEqual(metaTxt({ ' a=b ': 'v`', 'rfc1035-raw': 'raw text', k: '' }), ['` a`=b` =v``', 'k=', 'raw text']);
  });
});
