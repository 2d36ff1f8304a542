// Malformed and odd packets: FORMERR, NOTIMP or silence as Consul's miekg server does; never a
// crash, never a state change, and the server still answers afterwards. TCP framing, pipelining
// and size; bind failures as rejected promises.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as packet from 'dns-packet';
import { startDnsServer } from '../../src/frontends/dns/server.ts';
import { MESHED, ask, decode, queryBytes, startDns, tcpExchange, udpRaw, type DnsServer } from './support.ts';

let s: DnsServer;
before(async () => {
  s = await startDns();
});
after(() => s.close());

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const b = Buffer.alloc(12);
  [id, flags, qd, an, ns, ar].forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
}

async function stillAnswers(): Promise<void> {
  const r = await ask(s.port, 'reviews.service.consul', { from: MESHED });
  assert.equal(r.rcode, 'NOERROR');
}

describe('DNS robustness', () => {
  it('short messages and responses get no reply', async () => {
    assert.equal(await udpRaw(s.port, Buffer.from([1, 2, 3]), undefined, 300), null);
    const resp = queryBytes('web.service.consul');
    resp[2]! |= 0x80;
    assert.equal(await udpRaw(s.port, resp, undefined, 300), null);
  });

  it('bad counts → FORMERR, other opcodes → NOTIMP, truncated question → FORMERR', async () => {
    const two = decode((await udpRaw(s.port, header(7, 0x0100, 2, 0, 0, 0)))!);
    assert.equal(two.rcode, 'FORMERR');
    assert.equal(two.msg.id, 7);
    const update = decode((await udpRaw(s.port, header(8, 5 << 11, 1, 0, 0, 0)))!);
    assert.equal(update.rcode, 'NOTIMP');
    const cut = queryBytes('web.service.consul').subarray(0, 20);
    assert.equal(decode((await udpRaw(s.port, cut))!).rcode, 'FORMERR');
    await stillAnswers();
  });

  it('unusual queries take the dns2 fallback parser and are still answered', async () => {
    const q = queryBytes('web.service.consul');
    const withAn = Buffer.from(q);
    withAn.writeUInt16BE(1, 6); // ANCOUNT 1 with no record present → unparsable → FORMERR
    assert.equal(decode((await udpRaw(s.port, withAn))!).rcode, 'FORMERR');
    // A non-OPT additional record (as TSIG would be) is decoded by dns2 and the query answered.
    const odd = packet.encode({ type: 'query', id: 9, flags: 0, questions: [{ type: 'A', name: 'Web.Service.Consul', class: 'IN' }], additionals: [{ type: 'TXT', name: 'x.example', ttl: 0, data: 'hi' }] });
    const r = decode((await udpRaw(s.port, odd))!);
    assert.equal(r.rcode, 'NOERROR');
    assert.equal((r.msg.answers ?? []).length, 3);
    assert.equal(r.msg.questions?.[0]?.name, 'Web.Service.Consul');
    await stillAnswers();
  });

  it('fast-check: random and mutated packets never crash or change state', async () => {
    const before = s.core.observations.length;
    const cacheBefore = s.core.world.current;
    const seeds = [queryBytes('web.service.consul'), queryBytes('reviews.service.consul', { type: 'SRV', edns: 1232, ecs: { ip: '10.0.0.1', prefix: 24 } }), queryBytes('example.org', { edns: 4096 })];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 300 }),
          fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([seed, edits]) => {
            const b = Buffer.from(seed);
            for (const [pos, v] of edits) b[pos % b.length] = v;
            return b;
          }),
        ),
        async (bytes) => {
          const reply = await udpRaw(s.port, Buffer.from(bytes), '127.0.0.30', 60);
          if (reply) decode(reply); // whatever we send must decode
        },
      ),
      { numRuns: 150 },
    );
    assert.equal(s.core.observations.length, before, 'garbage records no observation (caller 127.0.0.30 is unknown)');
    assert.equal(s.core.world.current, cacheBefore);
    await stillAnswers();
  });

  it('TCP: pipelined queries on one connection all get answers, matched by ID', async () => {
    const msgs = Array.from({ length: 50 }, (_, i) => queryBytes(i % 2 ? 'web.service.consul' : 'big.service.consul', { id: 1000 + i, type: i % 3 ? 'A' : 'SRV' }));
    const replies = await tcpExchange(s.port, msgs);
    assert.deepEqual(replies.map((r) => decode(r).msg.id).sort(), msgs.map((_, i) => 1000 + i).sort());
  });

  it('TCP: a large answer stays under 64 KB and is complete', async () => {
    const specs = Array.from({ length: 1500 }, (_, i) => ({ service: 'huge', node: `huge-node-with-a-long-name-${i}`, address: `10.9.${i >> 8}.${i & 255}`, port: 80 }));
    const { testCore } = await import('../support/core.ts');
    const { dnsWorld } = await import('./support.ts');
    const core = await testCore({ world: dnsWorld(specs) });
    const big = await startDns({ core });
    try {
      const [raw] = await tcpExchange(big.port, [queryBytes('huge.service.consul', { type: 'SRV' })]);
      assert.ok(raw!.length <= 65535);
      const r = decode(raw!);
      assert.ok((r.msg.answers ?? []).length > 100);
      const a = decode((await tcpExchange(big.port, [queryBytes('huge.service.consul')]))[0]!);
      assert.equal((a.msg.answers ?? []).length, 1500);
    } finally {
      await big.close();
    }
  });

  it('bind failure → rejected promise with a clear error, no crash', async () => {
    await assert.rejects(startDnsServer(s.core, `127.0.0.1:${s.port}`), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DSC_ERR_LISTEN');
      assert.match(err.message, /cannot listen for DNS/);
      return true;
    });
    await stillAnswers();
  });
});
