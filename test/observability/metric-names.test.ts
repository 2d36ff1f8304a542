// Every metric name that a dashboard panel, a dashboard variable or an alert rule reads is one that
// Discovery exports. Embedded-mode metrics come from /metrics of a running app (built through
// test/support, Sidecar scoping on, after a DNS and an HTTP lookup); the live-only ones from the
// registries of the live components built against the test doubles: the upstream Consul source
// (synced against the Consul double), the Kubernetes live source (synced against the Kubernetes
// double), the Lease elector and the Kubernetes Sidecar sink. A live-mode replica built as
// `discovery serve` builds it, on both doubles, must export every one of them by itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { systemClock } from '../../src/platform/clock.ts';
import { createLogger } from '../../src/platform/log.ts';
import { LeaseElector } from '../../src/sinks/kubernetes/lease-elector.ts';
import { portOf, testApp } from '../support/app.ts';
import { eventually } from '../support/eventually.ts';
import { KubeDouble } from '../support/kube-double/index.ts';
import { queryBytes, udpExchange } from '../dns/support.ts';
import { fleet, harness } from '../sources/consul-upstream-harness.ts';
import { MESHED_CALLER, startDoubles, startReplica } from '../live/live-harness.ts';
import { namespaceObject, podObject, startSource } from '../sources/kube-live-fixtures.ts';
import { newSink } from '../sinks/kube-sidecar-fixtures.ts';
import { isExported, metricNames } from './promql-names.ts';
import { adminRequest, samples } from './scrape.ts';

const DIR = new URL('../../deploy/observability/', import.meta.url);

interface Expression {
  readonly where: string;
  readonly expr: string;
}

interface DashboardPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: DashboardPanel[];
}

async function dashboardExpressions(): Promise<Expression[]> {
  const dash = JSON.parse(await readFile(fileURLToPath(new URL('discovery-dashboard.json', DIR)), 'utf8')) as {
    panels: DashboardPanel[];
    templating: { list: Array<{ name: string; type: string; definition?: string }> };
  };
  const out: Expression[] = [];
  const walk = (panels: readonly DashboardPanel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title ?? '?'}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) {
    if (v.type !== 'query' || !v.definition) continue;
    // Grafana's label_values(SELECTOR, LABEL): the selector is PromQL.
    const m = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(v.definition);
    assert.ok(m, `variable ${v.name}: label_values(SELECTOR, LABEL) expected, got ${v.definition}`);
    out.push({ where: `variable "${v.name}"`, expr: m[1]! });
  }
  return out;
}

async function ruleExpressions(): Promise<Expression[]> {
  const doc = parse(await readFile(fileURLToPath(new URL('discovery-alerts.rules.yml', DIR)), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

/** Family names with their types, and sample names, over several expositions. */
class Exported {
  readonly families = new Map<string, string>();
  readonly sampleNames = new Set<string>();

  add(text: string): void {
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) this.families.set(m[1]!, m[2]!);
    for (const s of samples(text)) this.sampleNames.add(s.name);
  }
}

async function embeddedExposition(): Promise<string> {
  const t = await testApp({ listen: true, sidecars: { enabled: true } });
  try {
    await udpExchange(portOf(t.app.addresses.dns), queryBytes('reviews.service.consul'));
    assert.equal((await fetch(`http://127.0.0.1:${portOf(t.app.addresses.http)}/v1/health/service/reviews`)).status, 200);
    const res = await adminRequest(t.app, '/metrics');
    assert.equal(res.status, 200);
    return await res.text();
  } finally {
    await t.stop();
  }
}

async function consulUpstreamExposition(): Promise<string> {
  const h = await harness({ registrations: fleet(3) });
  try {
    await h.synced();
    return await h.registry.metrics();
  } finally {
    await h.close();
  }
}

async function kubernetesExpositions(): Promise<string[]> {
  const double = await KubeDouble.start();
  try {
    double.apply(namespaceObject('bookinfo'));
    double.apply(podObject('bookinfo', 'productpage-1', '127.0.0.10'));
    const running = await startSource(double);
    try {
      await eventually(() => assert.ok(running.deliveries().length > 0, 'no snapshot yet'), 'the Kubernetes source delivered its first snapshot', { timeoutMs: 10_000 });
      const source = await running.registry.metrics();
      const leaseRegistry = new Registry();
      // Constructing the elector registers its gauge; it is never started (no Lease traffic).
      new LeaseElector({ kubeConfig: double.kubeConfig(), namespace: 'discovery', identity: 'replica-a', clock: systemClock, log: createLogger('silent'), registry: leaseRegistry });
      const { registry: sinkRegistry } = newSink(double.kubeConfig());
      return [source, await leaseRegistry.metrics(), await sinkRegistry.metrics()];
    } finally {
      running.abort.abort();
    }
  } finally {
    await double.close();
  }
}

async function liveReplicaExposition(): Promise<string> {
  const doubles = await startDoubles();
  try {
    const replica = await startReplica(doubles, 'metrics');
    try {
      await eventually(async () => assert.equal((await fetch(`${replica.adminUrl()}/readyz`)).status, 200), 'the live replica is ready', { timeoutMs: 20_000 });
      await udpExchange(replica.dnsPort(), queryBytes('reviews.service.consul'), MESHED_CALLER);
      assert.equal((await fetch(`${replica.httpUrl()}/v1/health/service/reviews`)).status, 200);
      const res = await fetch(`${replica.adminUrl()}/metrics`);
      assert.equal(res.status, 200);
      return await res.text();
    } finally {
      await replica.stop();
    }
  } finally {
    await doubles.close();
  }
}

/** Each exposition is taken once and shared by the tests of this file. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => (p ??= make());
}
const embedded = once(embeddedExposition);
const liveReplica = once(liveReplicaExposition);

/** The names the expressions read that `exported` lacks, with where each is read. */
function missingFrom(exported: Exported, expressions: readonly Expression[]): string[] {
  const missing: string[] = [];
  for (const { where, expr } of expressions) {
    for (const name of metricNames(expr)) if (!isExported(name, exported.families, exported.sampleNames)) missing.push(`${where}: ${name}`);
  }
  return missing;
}

test('the PromQL name tokenizer skips functions, label names, keywords, strings, ranges and numbers', () => {
  assert.deepEqual(metricNames('sum by (route, reason) (rate(discovery_answers_total{job=~"$job", route="mesh"}[$__rate_interval]))'), ['discovery_answers_total']);
  assert.deepEqual(metricNames('(discovery_mode{mode="consul-only"} == 1) and ignoring (mode) ((time() - discovery_mode_changed_timestamp_seconds) > 7200)'), ['discovery_mode', 'discovery_mode_changed_timestamp_seconds']);
  assert.deepEqual(metricNames('count by (job, namespace) (count by (job, namespace, mode) (discovery_mode == 1)) > 1'), ['discovery_mode']);
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket{a="}"}[5m]))) / on (pod) group_left (node) y offset 1h30m'), ['x_seconds_bucket', 'y']);
  assert.deepEqual(metricNames('sum(rate(a_total[5m])) without (instance) > bool 1e3 unless b or c * 0x10'), ['a_total', 'b', 'c']);
  assert.deepEqual(metricNames('label_replace(up, "dst", "$1", "src", "(.*)") + Inf + NaN'), ['up']);
});

test('isExported: sample names, family names, and histogram series before any observation', () => {
  const families = new Map([
    ['h_seconds', 'histogram'],
    ['c_total', 'counter'],
  ]);
  assert.ok(isExported('h_seconds_bucket', families, new Set()));
  assert.ok(isExported('h_seconds_count', families, new Set()));
  assert.ok(isExported('c_total', families, new Set()));
  assert.ok(!isExported('c_total_bucket', families, new Set()), 'a counter has no buckets');
  assert.ok(!isExported('missing_total', families, new Set()));
});

test('every metric a dashboard panel or an alert reads is exported by a running Discovery (embedded app, live components, live replica)', async () => {
  const exported = new Exported();
  exported.add(await embedded());
  exported.add(await consulUpstreamExposition());
  for (const text of await kubernetesExpositions()) exported.add(text);
  // The passthrough of the live HTTP front end is only built with an upstream agent: from the live replica.
  exported.add(await liveReplica());

  const expressions = [...(await dashboardExpressions()), ...(await ruleExpressions())];
  assert.ok(expressions.length >= 40, `dashboard and rules hold ${expressions.length} expressions`);
  const used = new Set<string>();
  for (const { where, expr } of expressions) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where}: reads no metric: ${expr}`);
    for (const name of names) used.add(name);
  }
  assert.deepEqual(missingFrom(exported, expressions), [], 'metric names read by the dashboard or the rules but not exported');
  // The cross-check covers what the issue asks the dashboard and alerts to show.
  for (const name of ['discovery_answers_total', 'discovery_mode', 'discovery_pins', 'discovery_sidecar_pending_pairs', 'discovery_upstream_last_contact_seconds', 'discovery_kube_stale', 'discovery_dns_request_duration_seconds_bucket', 'discovery_http_request_duration_seconds_bucket', 'discovery_http_blocking_waiters', 'discovery_lease_leader']) {
    assert.ok(used.has(name), `the dashboard or the rules read ${name}`);
  }
  // The check can fail: a name nobody exports is reported.
  assert.ok(!isExported('discovery_no_such_metric_total', exported.families, exported.sampleNames));
});

test('a live-mode replica on the Consul and Kubernetes doubles exports every metric the dashboard and the rules read', async () => {
  const live = new Exported();
  live.add(await liveReplica());
  const expressions = [...(await dashboardExpressions()), ...(await ruleExpressions())];
  assert.deepEqual(missingFrom(live, expressions), [], 'read by the dashboard or the rules but not exported by a live replica');
  // In embedded mode the live-only families are absent: the live replica is what proves them.
  const embeddedOnly = new Exported();
  embeddedOnly.add(await embedded());
  const liveOnly = missingFrom(embeddedOnly, expressions).map((m) => m.slice(m.lastIndexOf(' ') + 1));
  for (const name of ['discovery_lease_leader', 'discovery_kube_stale', 'discovery_upstream_reachable', 'discovery_passthrough_requests_total']) assert.ok(liveOnly.includes(name), `${name} is live-only`);
});
