// Model-based test: random sequences of lookups, world changes (user Sidecars appearing and going),
// mode switches, restarts and sink failures. After every step:
// - no Sidecar without the managed-by label was ever written (invariant 4);
// - no host ever written for a workload is missing from the sink (no expiry configured: invariant 3);
// - a ClusterIP answer is only given when the caller's Sidecar(s) list the target (invariant 2).
// At the end, with faults cleared and conflicts gone, every observed pair is in its Sidecar
// (except observations that were only in memory when a restart happened: a known limit).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isManaged } from '../../src/sinks/sidecar-sink.ts';
import { MemorySidecarSink } from '../../src/sinks/memory-sidecar-sink.ts';
import { egressImports } from '../../src/world/istio-hosts.ts';
import { sidecar } from '../support/world-fixtures.ts';
import { harness, meshWorld, type Harness } from './helpers.ts';

const CALLERS = ['127.0.0.10', '127.0.0.11', '127.0.0.12', '127.0.0.13'];
const TARGETS = ['reviews', 'ratings', 'svc0', 'svc1', 'svc2'];
const WORKLOAD_OF: Record<string, string> = { '127.0.0.10': 'bookinfo/productpage', '127.0.0.11': 'bookinfo/productpage', '127.0.0.12': 'web/frontend', '127.0.0.13': 'web/legacy-ui' };
const host = (t: string) => `bookinfo/${t}.bookinfo.svc.cluster.local`;

type Op =
  | { op: 'lookup'; caller: number; target: number }
  | { op: 'advance'; ms: number }
  | { op: 'restart' }
  | { op: 'failWrites'; n: number }
  | { op: 'failRead' }
  | { op: 'userSidecar'; on: boolean }
  | { op: 'mode'; mode: 'hybrid' | 'consul-only' | 'shadow' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('lookup' as const), caller: fc.nat(CALLERS.length - 1), target: fc.nat(TARGETS.length - 1) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 100, max: 7000 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('failWrites' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'failRead' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('userSidecar' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mode' as const), mode: fc.constantFrom('hybrid' as const, 'consul-only' as const, 'shadow' as const) }) },
);

const USER = sidecar('web', 'frontend-by-hand', [host('reviews')], { selector: { app: 'frontend' } });

test('model: never an unmanaged write, never a lost host, never an early ClusterIP', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
      const sink = new MemorySidecarSink();
      let userOn = false;
      const world = () => meshWorld({ targets: 3, sidecars: userOn ? [USER] : [] });
      let h: Harness = await harness(sink, { world: world() });
      const stateDir = h.core.stateDir;
      const everWritten = new Map<string, Set<string>>();
      const observed = new Set<string>();

      const check = () => {
        for (const w of sink.writes) assert.ok(isManaged(w), 'unmanaged Sidecar written');
        for (const o of sink.objects.values()) {
          const key = `${o.metadata.namespace}/${o.metadata.name}`;
          const set = everWritten.get(key) ?? new Set<string>();
          for (const hst of o.spec.egress[0]!.hosts) set.add(hst);
          everWritten.set(key, set);
        }
        for (const [key, hosts] of everWritten) {
          const now = sink.objects.get(key);
          assert.ok(now, `Sidecar ${key} disappeared`);
          for (const hst of hosts) assert.ok(now.spec.egress[0]!.hosts.includes(hst), `${hst} lost from ${key}`);
        }
      };

      for (const step of ops) {
        switch (step.op) {
          case 'lookup': {
            const ip = CALLERS[step.caller]!;
            const t = TARGETS[step.target]!;
            const r = h.lookup(ip, t);
            observed.add(`${WORKLOAD_OF[ip]}|${host(t)}`);
            if (r.decision.route === 'mesh') {
              const own = sink.objects.get(WORKLOAD_OF[ip]!);
              const listed = own ? egressImports(own.spec.egress[0]!.hosts, own.metadata.namespace, 'bookinfo', `${t}.bookinfo.svc.cluster.local`) : false;
              const user = userOn && ip === '127.0.0.12' && USER.egressHosts.includes(host(t));
              assert.ok(own ? listed && (!userOn || ip !== '127.0.0.12' || user) : user, `ClusterIP for ${ip} -> ${t} before its Sidecar lists it`);
            }
            break;
          }
          case 'advance':
            await h.clock.advance(step.ms);
            break;
          case 'restart': {
            const mode = h.core.control.mode;
            await h.stop();
            // Known limit: observations only in memory (dry-run mode, or writes failing at stop) do not survive a restart.
            for (const pair of [...observed]) {
              const [workload, hst] = pair.split('|') as [string, string];
              if (!sink.objects.get(workload)?.spec.egress[0]!.hosts.includes(hst)) observed.delete(pair);
            }
            h = await harness(sink, { world: world(), clock: h.clock, stateDir });
            assert.equal(h.core.control.mode, mode);
            break;
          }
          case 'failWrites':
            sink.faults.failWrites = step.n;
            break;
          case 'failRead':
            sink.faults.failReads = 1;
            break;
          case 'userSidecar':
            userOn = step.on;
            h.core.setWorld({ kube: world().kube });
            break;
          case 'mode':
            await h.core.control.setMode(step.mode, { actor: 'model', reason: 'model' });
            break;
        }
        check();
      }

      // Quiesce: faults cleared, hybrid mode, no conflicts; everything observed must be written.
      sink.faults.failWrites = 0;
      sink.faults.failReads = 0;
      if (h.core.control.mode !== 'hybrid') await h.core.control.setMode('hybrid', { actor: 'model', reason: 'end' });
      if (userOn) {
        userOn = false;
        h.core.setWorld({ kube: world().kube });
      }
      await h.clock.advance(20_000);
      check();
      for (const pair of observed) {
        const [workload, hst] = pair.split('|') as [string, string];
        assert.ok(sink.objects.get(workload)?.spec.egress[0]!.hosts.includes(hst), `observed ${pair} never written`);
      }
      await h.stop();
    }),
    { numRuns: Number(process.env['MODEL_RUNS'] ?? 60) },
  );
});
