// The node-local resolver configuration of deploy/dns/unbound, run by the real unbound (Debian's
// 1.17.1) in front of a running Discovery: a caller that resolves through unbound is named to
// Discovery by the EDNS Client Subnet option unbound adds, so the meshed Pod (127.0.0.10) gets the
// ClusterIP and the unmeshed one (127.0.0.20) HAProxy, also when unbound has cached the other's
// answer. When Discovery does not trust unbound's address, both get HAProxy (unbound is then just
// one more unknown caller).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_CONFIG } from '../../src/config/defaults.ts';
import { portOf, testApp, type TestApp } from '../support/app.ts';
import { freePort } from '../support/process.ts';
import { loopbackConfig, shippedConfig, shippedDiscoveryAddresses, startUnbound, type RunningUnbound } from './unbound.ts';

const run = promisify(execFile);

// The standard test world (test/support/world-fixtures.ts).
const MESHED = '127.0.0.10';
const UNMESHED = '127.0.0.20';
const REVIEWS_CLUSTER_IP = ['10.96.0.10'];
const REVIEWS_HAPROXY = ['10.1.0.1', '10.1.0.2'];
/** unbound's queries to Discovery leave from here. */
const UNBOUND_OUTGOING = '127.0.0.53';

interface Setup {
  readonly name: string;
  readonly discovery: TestApp;
  readonly unbound: RunningUnbound;
  readonly port: number;
}

let dir: string;
const running: Setup[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'discovery-unbound-'));
});
after(async () => {
  for (const s of running) {
    await s.unbound.stop();
    await s.discovery.stop();
  }
  await rm(dir, { recursive: true, force: true });
});

/** A Discovery (with TTLs, so unbound caches answers) and the shipped unbound in front of it. */
async function setup(name: string, trusted: readonly string[]): Promise<Setup> {
  const discovery = await testApp({
    listen: true,
    config: { dns: { ...DEFAULT_CONFIG.dns, trustedEcsResolvers: trusted, serviceTtl: { '*': 30 }, meshTtl: 30 } },
  });
  const port = await freePort();
  const config = loopbackConfig(await shippedConfig(), { port, outgoing: UNBOUND_OUTGOING, discoveryPort: portOf(discovery.app.addresses.dns), directory: dir });
  const unbound = await startUnbound(join(dir, `${name}.conf`), config).catch(async (err: unknown) => {
    await discovery.stop();
    throw err;
  });
  const s = { name, discovery, unbound, port };
  running.push(s);
  return s;
}

/** `dig -b <caller>` through unbound: the A records of reviews, sorted. */
async function digFrom(s: Setup, caller: string, name = 'reviews.service.consul'): Promise<string[]> {
  const { stdout } = await run('dig', ['-b', caller, '@127.0.0.1', '-p', String(s.port), name, 'A', '+short', '+tries=1', '+time=5'], { timeout: 15_000 });
  return stdout.split('\n').filter(Boolean).sort();
}

/** Node's resolver (c-ares) bound to the caller's address, as an application would ask. */
async function resolveFrom(s: Setup, caller: string): Promise<string[]> {
  const r = new Resolver({ timeout: 5000, tries: 1 });
  r.setServers([`127.0.0.1:${s.port}`]);
  r.setLocalAddress(caller);
  return (await r.resolve4('reviews.service.consul')).sort();
}

describe('unbound in front of Discovery (deploy/dns/unbound/unbound.conf)', () => {
  it('the shipped file sends ECS to the same address it forwards consul. to', async () => {
    const { sendClientSubnet, consulForward } = shippedDiscoveryAddresses(await shippedConfig());
    assert.equal(sendClientSubnet.length, 1);
    assert.deepEqual(sendClientSubnet, consulForward);
  });

  it('trusted: the meshed caller gets the ClusterIP, the unmeshed one HAProxy, whatever unbound cached', async () => {
    const s = await setup('trusted', [UNBOUND_OUTGOING]);
    // Alternating callers: each answer is cached for its caller's address only (scope /32).
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(await digFrom(s, MESHED), REVIEWS_CLUSTER_IP, `round ${round}: meshed caller`);
      assert.deepEqual(await digFrom(s, UNMESHED), REVIEWS_HAPROXY, `round ${round}: unmeshed caller`);
    }
    assert.deepEqual(await resolveFrom(s, UNMESHED), REVIEWS_HAPROXY);
    assert.deepEqual(await resolveFrom(s, MESHED), REVIEWS_CLUSTER_IP);
    // Discovery saw the Pod, not unbound, and only once: the later meshed queries were answered from
    // unbound's cache entry for that address, and never handed to the unmeshed caller.
    assert.deepEqual(s.discovery.observations.map((o) => o.caller.ip), [MESHED]);
  });

  it('known limitation: unbound 1.17 passes on an ECS option the caller put in its own query', async () => {
    // unbound forwards a client's own ECS option to the servers in send-client-subnet and has no
    // setting to replace it by the client's address, so a Pod that crafts one is answered as the
    // Pod it names (deploy/README.md, "What ECS cannot prove"). This test keeps that statement true.
    const s = running.find((r) => r.name === 'trusted') ?? (await setup('trusted', [UNBOUND_OUTGOING]));
    const { stdout } = await run('dig', ['-b', UNMESHED, `+subnet=${MESHED}/32`, '@127.0.0.1', '-p', String(s.port), 'reviews.service.consul', 'A', '+short', '+tries=1', '+time=5'], { timeout: 15_000 });
    assert.deepEqual(stdout.split('\n').filter(Boolean).sort(), REVIEWS_CLUSTER_IP);
  });

  it('not trusted: unbound is one more unknown caller, and everyone gets HAProxy', async () => {
    const s = await setup('untrusted', []);
    assert.deepEqual(await digFrom(s, MESHED), REVIEWS_HAPROXY);
    assert.deepEqual(await digFrom(s, UNMESHED), REVIEWS_HAPROXY);
    assert.deepEqual(await resolveFrom(s, MESHED), REVIEWS_HAPROXY);
    assert.equal(s.discovery.observations.length, 0, 'no meshed caller was seen');
  });
});
