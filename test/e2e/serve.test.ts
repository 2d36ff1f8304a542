// `discovery serve` as a real process on the bundled demo world, driven the way an operator and
// legacy clients drive it: HTTP from callers bound to their Pod IPs, the CLI for the kill-switch,
// pins, explain and audit, SIGTERM for a drain. Upstream Consul and Kubernetes are the embedded
// snapshot files (no Consul or API server exists on these machines).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { ROOT, run, startServe, type Served } from '../support/process.ts';
import { eventually } from '../support/eventually.ts';

const DEMO = join(ROOT, 'examples', 'demo');
/** A real process reads files and answers over sockets: allow more than the default wait. */
const E2E_WAIT = { timeoutMs: 10_000, intervalMs: 50 };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(base: string, path: string, from: string): Promise<Reply> {
  const [host, port] = base.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, localAddress: from, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function demoCopy(): Promise<{ dir: string; config: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'discovery-e2e-'));
  await copyFile(join(DEMO, 'consul.json'), join(dir, 'consul.json'));
  await copyFile(join(DEMO, 'kube.yaml'), join(dir, 'kube.yaml'));
  const config = join(dir, 'discovery.yaml');
  await writeFile(config, `consul-snapshot: consul.json\nkube-snapshot: kube.yaml\nstate-dir: state\nsnapshot-poll: 200ms\nsidecars:\n  enabled: false\n`);
  return { dir, config };
}

function addresses(body: string): string[] {
  return (JSON.parse(body) as Array<{ Service: { Address: string }; Node: { Address: string } }>).map((e) => e.Service.Address || e.Node.Address).sort();
}

async function withServe(fn: (s: Served, dir: string) => Promise<void>, extraEnv: Record<string, string> = {}): Promise<void> {
  const { dir, config } = await demoCopy();
  const s = await startServe(['--config', config], extraEnv);
  try {
    await fn(s, dir);
  } finally {
    await s.stop('SIGKILL');
  }
}

test('e2e: the meshed caller gets the ClusterIP, the legacy caller HAProxy; kill-switch via the CLI flips it back and forth', async () => {
  await withServe(async (s) => {
    const meshed = await get(s.http, '/v1/health/service/reviews', '127.0.0.10');
    const legacy = await get(s.http, '/v1/health/service/reviews', '127.0.0.20');
    assert.equal(meshed.status, 200);
    assert.equal(meshed.headers['content-type'], 'application/json');
    const clusterIp = addresses(meshed.body);
    assert.equal(clusterIp.length, 1);
    assert.match(clusterIp[0]!, /^10\.96\./);
    assert.ok(addresses(legacy.body).every((a) => !a.startsWith('10.96.')));

    const env = { DISCOVERY_ADMIN_ADDR: s.admin };
    const on = await run(['killswitch', 'on', '--reason', 'e2e drill'], env);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /kill-switch ON/);
    const off = await get(s.http, '/v1/health/service/reviews', '127.0.0.10');
    assert.equal(off.body, legacy.body, 'kill-switch: byte-for-byte the Consul answer (invariant 5)');
    assert.ok(Number(off.headers['x-consul-index']) > Number(meshed.headers['x-consul-index']));

    const st = await run(['killswitch', 'status'], env);
    assert.match(st.stdout, /kill-switch ON/);
    assert.equal((await run(['killswitch', 'off'], env)).code, 0);
    assert.deepEqual(addresses((await get(s.http, '/v1/health/service/reviews', '127.0.0.10')).body), clusterIp);

    const audit = await run(['audit'], env);
    assert.match(audit.stdout, / mode -> consul-only {2}"e2e drill"/);
    assert.match(audit.stdout, / mode -> hybrid/);
    assert.doesNotMatch(audit.stdout, /mode mode/, 'the subject is not repeated when it is the action');
  });
});

test('e2e: pin, explain and unpin through the CLI; bad CLI input is a clear error and changes nothing', async () => {
  await withServe(async (s) => {
    const env = { DISCOVERY_ADMIN_ADDR: s.admin };
    assert.equal((await run(['pin', 'reviews', '--reason', 'slow in mesh'], env)).code, 0);
    const ex = await run(['explain', 'reviews', '--from', '127.0.0.10'], env);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /HAProxy \(Consul\) — reason pinned/);
    assert.match(ex.stdout, /slow in mesh/);
    const json = JSON.parse((await run(['explain', 'reviews', '--from', '127.0.0.10', '-o', 'json'], env)).stdout) as { reason: string; caller: { workload: string } };
    assert.equal(json.reason, 'pinned');
    assert.equal(json.caller.workload, 'bookinfo/productpage');
    assert.equal((await run(['unpin', 'reviews'], env)).code, 0);
    assert.match((await run(['explain', 'reviews', '--from', '127.0.0.10'], env)).stdout, /ClusterIP \(mesh\) — reason mesh/);

    const noReason = await run(['pin', 'reviews'], env);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /needs --reason/);
    const badCaller = await run(['pin', 'reviews', '--caller', 'nope', '--reason', 'x'], env);
    assert.notEqual(badCaller.code, 0);
    assert.match(badCaller.stderr, /namespace\/name/);
    const unknownFlag = await run(['killswitch', 'on', '--reasn', 'x'], env);
    assert.equal(unknownFlag.code, 2);
    const status = JSON.parse((await run(['killswitch', 'status', '-o', 'json'], env)).stdout) as { mode: string; pins: unknown[] };
    assert.equal(status.mode, 'hybrid');
    assert.equal(status.pins.length, 0);
  });
});

test('e2e: kill-switch and pins survive a restart with the same state dir', async () => {
  const { config } = await demoCopy();
  const first = await startServe(['--config', config]);
  assert.equal((await run(['killswitch', 'on', '--reason', 'restart drill'], { DISCOVERY_ADMIN_ADDR: first.admin })).code, 0);
  assert.equal(await first.stop('SIGTERM'), 0);
  const second = await startServe(['--config', config]);
  try {
    const st = await run(['killswitch', 'status'], { DISCOVERY_ADMIN_ADDR: second.admin });
    assert.match(st.stdout, /kill-switch ON/);
    const meshed = await get(second.http, '/v1/health/service/reviews', '127.0.0.10');
    assert.ok(addresses(meshed.body).every((a) => !a.startsWith('10.96.')));
  } finally {
    await second.stop('SIGKILL');
  }
});

test('e2e: SIGTERM answers parked blocking queries at once with the current index, then exits 0', async () => {
  const { config } = await demoCopy();
  const s = await startServe(['--config', config]);
  const first = await get(s.http, '/v1/health/service/reviews', '127.0.0.20');
  const index = String(first.headers['x-consul-index']);
  const parked = get(s.http, `/v1/health/service/reviews?index=${index}&wait=5m`, '127.0.0.20');
  await eventually(async () => assert.match(await fetch(`http://${s.admin}/metrics`).then((r) => r.text()), /blocking\S* [1-9]/), 'the query to park', E2E_WAIT);
  const code = await s.stop('SIGTERM');
  const r = await parked;
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-consul-index'], index);
  assert.equal(r.body, first.body);
  assert.equal(code, 0);
});

test('e2e: a snapshot change is picked up (rename-replace), a broken one keeps the last good world', async () => {
  await withServe(async (s, dir) => {
    const regs = JSON.parse(await readFile(join(dir, 'consul.json'), 'utf8')) as Array<Record<string, unknown>>;
    regs.push({ Node: 'haproxy-newsvc-1', Address: '10.20.99.1', Service: { Service: 'newsvc', Port: 8080 }, Checks: [{ CheckID: 'service:newsvc', Name: 'ok', Status: 'passing', ServiceID: 'newsvc' }] });
    await writeFile(join(dir, 'consul.json.tmp'), JSON.stringify(regs));
    const { rename } = await import('node:fs/promises');
    await rename(join(dir, 'consul.json.tmp'), join(dir, 'consul.json'));
    await eventually(async () => assert.ok(addresses((await get(s.http, '/v1/health/service/newsvc', '127.0.0.20')).body).includes('10.20.99.1')), 'newsvc to appear', E2E_WAIT);

    await writeFile(join(dir, 'consul.json'), '[{"Node": ');
    await eventually(() => assert.ok(s.logs.some((l) => l.includes('consul.json') && /"level":50/.test(l))), 'one clear error in the log', E2E_WAIT);
    const still = await get(s.http, '/v1/health/service/newsvc', '127.0.0.20');
    assert.deepEqual(addresses(still.body), ['10.20.99.1'], 'the last good world keeps answering');
  });
});

test('e2e: bad config and a port in use exit non-zero with a message naming the problem', async () => {
  const { dir } = await demoCopy();
  await writeFile(join(dir, 'bad.yaml'), 'http-addr: nowhere\n');
  const bad = await run(['serve', '--config', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /http-addr: must be host:port/);

  const unknownFlag = await run(['serve', '--htp-addr', '1']);
  assert.equal(unknownFlag.code, 2);

  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const port = (blocker.address() as { port: number }).port;
  try {
    const busy = await run(['serve', '--config', join(dir, 'discovery.yaml'), '--http-addr', `127.0.0.1:${port}`, '--dns-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr + busy.stdout, new RegExp(`127\\.0\\.0\\.1:${port}.*(in use|EADDRINUSE)`));
  } finally {
    blocker.close();
  }

  const missing = await run(['serve', '--consul-snapshot', join(dir, 'nope.json'), '--http-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--state-dir', join(dir, 's2')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr + missing.stdout, /nope\.json/);
});

test('e2e: a reload that makes a mapping ambiguous sends meshed callers back to HAProxy and reports the conflict', async () => {
  await withServe(async (s, dir) => {
    assert.match(addresses((await get(s.http, '/v1/health/service/reviews', '127.0.0.10')).body)[0]!, /^10\.96\./);
    const extra = [
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata:',
      '  name: reviews-canary',
      '  namespace: bookinfo',
      '  annotations:',
      '    consul.hashicorp.com/service-name: reviews',
      'spec:',
      '  clusterIP: 10.96.99.99',
      '  ports:',
      '  - name: http',
      '    port: 9080',
      '',
    ].join('\n');
    const { appendFile } = await import('node:fs/promises');
    await appendFile(join(dir, 'kube.yaml'), extra);
    await eventually(async () => assert.ok(addresses((await get(s.http, '/v1/health/service/reviews', '127.0.0.10')).body).every((a) => a.startsWith('10.20.'))), 'HAProxy for the ambiguous target', E2E_WAIT);
    await eventually(() => assert.ok(s.logs.some((l) => l.includes('"problem":"mapping-ambiguous"') && l.includes('reviews-canary'))), 'the conflict in the log', E2E_WAIT);
    const ex = JSON.parse((await run(['explain', 'reviews', '--from', '127.0.0.10', '-o', 'json'], { DISCOVERY_ADMIN_ADDR: s.admin })).stdout) as { reason: string; problems: string[] };
    assert.equal(ex.reason, 'mapping-ambiguous');
    assert.ok(ex.problems.some((p) => p.includes('reviews-canary')));
    const metrics = await fetch(`http://${s.admin}/metrics`).then((r) => r.text());
    assert.match(metrics, /discovery_world_problems\{kind="mapping-ambiguous"\} [1-9]/);
  });
});
