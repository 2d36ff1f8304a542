// Invariant 5 over DNS: with the kill-switch on, a meshed caller's reply is exactly the reply
// Consul's data gives anyone (an unmeshed caller's), for every record type and transport: same
// flags, same sections, same records. Only the order of records may differ (Consul shuffles too)
// and the SOA serial (Consul puts the current time there).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MESHED, UNMESHED, ask, startDns, type Ask, type DnsServer, type Reply, type Rec } from './support.ts';

let s: DnsServer;
before(async () => {
  s = await startDns();
});
after(async () => {
  await s.close();
});

function canonical(r: Reply): unknown {
  const sorted = (recs: Rec[] | undefined) =>
    (recs ?? [])
      .map((x) => JSON.stringify(x.type === 'SOA' ? { ...x, data: { ...(x.data as object), serial: 0 } } : x))
      .sort();
  const { msg } = r;
  return { flags: msg.flags, rcode: r.rcode, q: msg.questions, an: sorted(msg.answers), ns: sorted(msg.authorities), ar: sorted(msg.additionals) };
}

const QUERIES: Array<[string, Ask]> = [
  ['reviews.service.consul', {}],
  ['reviews.service.consul', { type: 'SRV' }],
  ['reviews.service.consul', { type: 'SRV', edns: 4096 }],
  ['_reviews._tcp.service.consul', { type: 'SRV', tcp: true }],
  ['v1.reviews.service.consul', { type: 'A', edns: 1232 }],
  ['reviews.service.consul', { type: 'AAAA' }],
  ['nosuch.service.consul', {}],
];

describe('DNS kill-switch (invariant 5)', () => {
  it('a meshed caller gets the ClusterIP in hybrid mode and exactly Consul\'s answer with the kill-switch on', async () => {
    const hybrid = await ask(s.port, 'reviews.service.consul', { from: MESHED });
    assert.deepEqual(hybrid.msg.answers?.map((a): unknown => a.data), ['10.96.0.10']);
    await s.core.control.setMode('consul-only', { actor: 'test', reason: 'invariant 5' });
    try {
      for (const [name, opts] of QUERIES) {
        const meshed = await ask(s.port, name, { ...opts, from: MESHED });
        const legacy = await ask(s.port, name, { ...opts, from: UNMESHED });
        assert.deepEqual(canonical(meshed), canonical(legacy), `${name} ${JSON.stringify(opts)}`);
        assert.equal(meshed.raw.length, legacy.raw.length, `${name}: same size on the wire`);
      }
    } finally {
      await s.core.control.setMode('hybrid', { actor: 'test', reason: 'done' });
    }
  });
});
