// Every runbook in runbooks/ is run: each `sh tested` block's `discovery ...` commands go through
// the real CLI process (test/support/process.ts run) against live mode on the Consul and
// Kubernetes doubles (two replicas, test/live/live-harness.ts), in the runbook's order. Each
// command must exit 0 and the block's output must contain every line of the `text expected`
// block after it. The admin address comes from DISCOVERY_ADMIN_ADDR in the environment, the
// connection settings of `discovery preflight` from DISCOVERY_* as a Deployment sets them, and the
// runbooks' variables ($SERVICE, ...) name the test world's migrated service and meshed caller.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { CONTROL_KEY, DISCOVERY_TOKEN, MESHED_CALLER, request, startDoubles, startReplica, type Doubles, type Replica } from '../live/live-harness.ts';
import { eventually } from '../support/eventually.ts';
import { ROOT, run } from '../support/process.ts';
import { expand, testedBlocks, words, type TestedBlock } from './runbook-blocks.ts';

const RUNBOOKS = join(ROOT, 'runbooks');
/** The index describes the conventions; every other file is a runbook. */
const files = readdirSync(RUNBOOKS).filter((f) => f.endsWith('.md') && f !== 'README.md').sort();

/** What the runbooks ask the operator to set, in the test world's terms. */
const VARIABLES = { SERVICE: 'reviews', CALLER_IP: MESHED_CALLER, CALLER_WORKLOAD: 'bookinfo/productpage', NAMESPACE: 'bookinfo' };

async function commandEnv(d: Doubles, replica: Replica): Promise<Record<string, string>> {
  const tokenFile = join(d.dir, 'runbook-consul-token');
  await writeFile(tokenFile, `${DISCOVERY_TOKEN}\n`, { mode: 0o600 });
  return {
    DISCOVERY_ADMIN_ADDR: replica.app.addresses.admin!,
    DISCOVERY_CONSUL_ADDR: d.consul.url,
    DISCOVERY_CONSUL_TOKEN_FILE: tokenFile,
    DISCOVERY_KUBECONFIG: d.kubeconfig,
    DISCOVERY_NAMESPACE: 'discovery',
    DISCOVERY_CONTROL_KEY: CONTROL_KEY,
    DISCOVERY_STATE_DIR: replica.stateDir,
    ...VARIABLES,
  };
}

/** Runs one block's commands in order; returns their combined stdout. Throws naming the runbook line on any failure. */
export async function runBlock(name: string, block: TestedBlock, env: Record<string, string>): Promise<string> {
  let output = '';
  assert.ok(block.commands.length > 0, `${name}:${block.line}: a tested block without commands`);
  for (const command of block.commands) {
    const argv = words(command, env);
    assert.equal(argv[0], 'discovery', `${name}:${block.line}: tested blocks run discovery commands only, got: ${command}`);
    const r = await run(argv.slice(1), env, 60_000);
    assert.equal(r.code, 0, `${name}:${block.line}: \`${command}\` exited ${r.code}\n${r.stderr}${r.stdout}`);
    output += r.stdout;
  }
  for (const line of block.expected) {
    const wanted = expand(line, env);
    assert.ok(output.includes(wanted), `${name}:${block.line}: the output does not contain "${wanted}":\n${output}`);
  }
  return output;
}

test('runbooks: the index and every runbook named in the issue exist, each with a tested block', () => {
  for (const f of ['README.md', 'migrate-service.md', 'rollback.md', 'onboard-namespace.md', 'upgrade-restart.md', 'consul-down.md', 'kubernetes-down.md', 'sidecar-conflicts.md', 'discovery-down.md']) {
    const text = readFileSync(join(RUNBOOKS, f), 'utf8');
    if (f !== 'README.md') assert.ok(testedBlocks(text).length > 0, `${f} has no \`sh tested\` block`);
  }
});

test('runbooks: a command the CLI does not take, or a wrong expected line, fails the block', async () => {
  const d = await startDoubles();
  const a = await startReplica(d, 'replica-a');
  try {
    const env = await commandEnv(d, a);
    const [renamed] = testedBlocks('```sh tested\ndiscovery killswitch enable --reason "x"\n```\n');
    await assert.rejects(runBlock('inline', renamed!, env), /exited 2/);
    const [wrong] = testedBlocks('```sh tested\ndiscovery killswitch status\n```\n\n```text expected\nkill-switch ON\n```\n');
    await assert.rejects(runBlock('inline', wrong!, env), /does not contain "kill-switch ON"/);
    assert.throws(() => testedBlocks('```sh tested\ndiscovery status | grep mode\n```\n').forEach((b) => words(b.commands[0]!, env)), /plain commands/);
  } finally {
    await a.stop();
    await d.close();
  }
});

for (const file of files) {
  test(`runbook ${file}: every tested block runs against live mode on the doubles`, async () => {
    const blocks = testedBlocks(readFileSync(join(RUNBOOKS, file), 'utf8'));
    const d = await startDoubles();
    const a = await startReplica(d, 'replica-a');
    const b = await startReplica(d, 'replica-b');
    try {
      for (const r of [a, b]) await eventually(async () => assert.equal((await request(r.adminUrl(), '/readyz')).status, 200, `${r.name} ready`), `${r.name} to be ready`);
      const env = await commandEnv(d, a);
      for (const block of blocks) await runBlock(file, block, env);
    } finally {
      await a.stop();
      await b.stop();
      await d.close();
    }
  });
}
