// discovery preflight as an operator runs it: a real CLI process configured through flags and
// DISCOVERY_* environment like serve, the report as text or JSON, exit 0 without blockers and 3
// with one.

import assert from 'node:assert/strict';
import test from 'node:test';
import { run } from '../support/process.ts';
import { startDoubles } from '../live/live-harness.ts';
import { preflightFlags } from './preflight-fixtures.ts';

test('discovery preflight: exit 0 and a JSON report on the clean world, exit 3 and the blocker in the text once RBAC denies a verb', async () => {
  const d = await startDoubles();
  try {
    const flags = await preflightFlags(d);
    // Connection settings through the environment, as a Deployment would set them; the rest as flags.
    const env = { DISCOVERY_CONSUL_ADDR: flags['consul-addr']!, DISCOVERY_KUBECONFIG: flags['kubeconfig']!, DISCOVERY_CONSUL_TOKEN_FILE: flags['consul-token-file']! };
    const args = ['--namespace', 'discovery', '--control-key', flags['control-key']!, '--state-dir', d.dir];
    const clean = await run(['preflight', ...args, '-o', 'json'], env, 60_000);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    const report = JSON.parse(clean.stdout) as { ok: boolean; summary: { blocker: number }; checks: Array<{ id: string; status: string }> };
    assert.equal(report.ok, true);
    assert.equal(report.summary.blocker, 0);
    assert.ok(report.checks.some((c) => c.id === 'kube-rbac-sidecars' && c.status === 'pass'), clean.stdout);

    d.kube.faults.deny({ verb: 'create', group: 'networking.istio.io', resource: 'sidecars' });
    const blocked = await run(['preflight', ...args], env, 60_000);
    assert.equal(blocked.code, 3, blocked.stderr + blocked.stdout);
    assert.match(blocked.stdout, /^BLOCKER +kube-rbac-sidecars +create sidecars in every namespace denied/m);
    assert.match(blocked.stdout, /fix: grant create on sidecars \(apiGroup "networking.istio.io"\)/);
    assert.match(blocked.stdout, /^preflight: \d+ pass, \d+ warn, 1 blocker/m);
    assert.match(blocked.stdout, /^PASS +mesh-registry-only/m, 'a write denial does not keep the mesh checks from running');
  } finally {
    await d.close();
  }
});
