// The alert rules in deploy/observability: the plain rules file and the PrometheusRule carry the same
// groups, promtool accepts both, and the unit tests of alerts.test.yml (the kill-switch left on,
// upstream Consul and Kubernetes stale, replicas disagreeing on the mode, no Lease holder, Sidecar
// write failures) pass under `promtool test rules`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { requireProgram } from './programs.ts';

const DIR = fileURLToPath(new URL('../../deploy/observability/', import.meta.url));
const RULES = join(DIR, 'discovery-alerts.rules.yml');
const OPERATOR_RULE = join(DIR, 'prometheus-rule.yaml');
const run = promisify(execFile);
const promtool = requireProgram('promtool', 'prometheus');

async function promtoolRun(args: string[], cwd = DIR): Promise<{ code: number; out: string }> {
  try {
    const r = await run(promtool.path!, args, { cwd, timeout: 60_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

interface RuleGroups {
  groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}

test('the PrometheusRule carries exactly the groups of the plain rules file', async () => {
  const plain = parse(await readFile(RULES, 'utf8')) as RuleGroups;
  const operator = parse(await readFile(OPERATOR_RULE, 'utf8')) as { apiVersion: string; kind: string; spec: RuleGroups };
  assert.equal(operator.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(operator.kind, 'PrometheusRule');
  assert.deepEqual(operator.spec.groups, plain.groups);
  const alerts = plain.groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const name of ['DiscoveryConsulUpstreamStale', 'DiscoveryKubernetesStale', 'DiscoverySidecarWriteFailures', 'DiscoverySidecarConflicts', 'DiscoveryKillSwitchOnTooLong', 'DiscoveryReplicasDisagreeOnMode', 'DiscoveryNoLeaseHolder']) {
    assert.ok(alerts.includes(name), `alert ${name} is defined`);
  }
  for (const g of plain.groups) for (const r of g.rules) assert.ok(r.labels?.['severity'] && r.annotations?.['summary'] && r.annotations['description'], `${r.alert}: severity, summary and description`);
});

test('promtool check rules accepts the plain rules file and the PrometheusRule spec', { skip: promtool.skip }, async () => {
  const plain = await promtoolRun(['check', 'rules', RULES]);
  assert.equal(plain.code, 0, plain.out);
  assert.match(plain.out, /SUCCESS: 9 rules found/);
  const dir = await mkdtemp(join(tmpdir(), 'discovery-rules-'));
  try {
    const spec = (parse(await readFile(OPERATOR_RULE, 'utf8')) as { spec: RuleGroups }).spec;
    const file = join(dir, 'operator-spec.yml');
    await writeFile(file, JSON.stringify(spec));
    const operator = await promtoolRun(['check', 'rules', file]);
    assert.equal(operator.code, 0, operator.out);
    // The check can fail: a rule whose expression does not parse is refused.
    const broken = { groups: [{ name: 'x', rules: [{ alert: 'Broken', expr: 'sum by (job (discovery_mode)' }] }] };
    await writeFile(file, JSON.stringify(broken));
    const refused = await promtoolRun(['check', 'rules', file]);
    assert.notEqual(refused.code, 0, 'promtool refuses a broken expression');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('promtool test rules: kill-switch, upstream and Kubernetes stale, mode disagreement, Lease holder, Sidecar failures', { skip: promtool.skip }, async () => {
  const r = await promtoolRun(['test', 'rules', 'alerts.test.yml']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
  const tests = (parse(await readFile(join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> }).tests;
  const firing = new Set(tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  for (const name of ['DiscoveryKillSwitchOnTooLong', 'DiscoveryConsulUpstreamStale', 'DiscoveryKubernetesStale', 'DiscoveryReplicasDisagreeOnMode', 'DiscoveryNoLeaseHolder', 'DiscoverySidecarWriteFailures']) {
    assert.ok(firing.has(name), `alerts.test.yml expects ${name} to fire somewhere`);
  }
});
