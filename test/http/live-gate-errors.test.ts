// An answer Discovery builds after a caller's token was checked runs outside the request's own call
// stack: if building it fails, the caller must still get an answer (a 500 naming Discovery), never
// wait forever, and the failure is logged.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/platform/log.ts';
import { ConsulDouble } from '../support/consul-double/index.ts';
import { call, MESHED } from './support.ts';
import { STANDARD_REGISTRATIONS, startLiveServer, TestUpstream } from './passthrough-support.ts';

class BrokenUpstream extends TestUpstream {
  override contact(): { reachable: boolean; lastContactAt: number | null } {
    throw new Error('contact state unavailable');
  }
}

test('a failure while answering after the token check is a 500 and a log line, not a request left hanging', async () => {
  const double = await ConsulDouble.start({ acl: { managementToken: 'management-secret', tokens: { 'reader-secret': { serviceRead: ['*'], nodeRead: true } } } });
  for (const r of STANDARD_REGISTRATIONS) double.register(r);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const s = await startLiveServer(new BrokenUpstream(double.url, { aclCheck: true }), { log: createLogger('info', sink) });
  try {
    const r = await call(s.port, '/v1/health/service/reviews', { from: MESHED, headers: { 'X-Consul-Token': 'reader-secret' }, signal: AbortSignal.timeout(10_000) });
    assert.equal(r.status, 500, 'an answer, not a hang');
    assert.match(r.body, /Discovery: internal error/);
    assert.ok(lines.some((l) => l.includes('answering after the token check failed')), 'the failure is logged');
    assert.ok(!lines.some((l) => l.includes('reader-secret')), 'without the token');
  } finally {
    await s.close();
    await double.close();
  }
});
