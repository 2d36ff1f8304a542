// The status page in a real browser (Debian's headless Chromium driven by playwright-core) against a
// real `discovery serve` on the bundled demo world with an admin token: refused without the token,
// signed in through its form, it shows the demo world's numbers (worked out from the world model),
// the meshed caller on the mesh once its Sidecar propagated, and a pin with who and why. The CLI
// commands it suggests run as shown. A screenshot is written to a temporary file, and to
// docs/status-page.png when DISCOVERY_UPDATE_DOCS=1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { eventually } from '../support/eventually.ts';
import { ROOT, run, startServe, type Served } from '../support/process.ts';
import { DEMO_DIR, expectedCounts, loadDemoWorld } from './demo-world.ts';
import { requireProgram } from './programs.ts';

const browserProgram = requireProgram('chromium', 'chromium');
const TOKEN = 'demo-status-page-token-8a41f0';
const PRODUCTPAGE = '127.0.0.10';
const FRONTEND = '127.0.0.11';

/** A Consul HTTP read as the caller at `from` (the source address tells Discovery who asks). */
function lookupAs(served: Served, from: string, service: string): Promise<number> {
  const [host, port] = served.http.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path: `/v1/health/service/${service}`, localAddress: from }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function explainRoute(served: Served, service: string, from: string): Promise<string> {
  const r = await fetch(`http://${served.admin}/v1/explain?service=${service}&from=${from}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200);
  return ((await r.json()) as { route: string }).route;
}

/** Runs a command as the page shows it (`discovery ...`, "quoted" words), with TEXT filled in. */
async function runShown(command: string, served: Served, reason: string): Promise<string> {
  const words = (command.match(/"[^"]*"|\S+/g) ?? []).map((w) => (w.startsWith('"') ? w.slice(1, -1) : w)).map((w) => (w === 'TEXT' ? reason : w));
  assert.equal(words.shift(), 'discovery', `a discovery command: ${command}`);
  const r = await run(words, { DISCOVERY_ADMIN_ADDR: served.admin, DISCOVERY_ADMIN_TOKEN: TOKEN });
  assert.equal(r.code, 0, `${command}: ${r.stderr}`);
  return r.stdout;
}

test('the status page in Chromium on the demo world', { skip: browserProgram.skip, timeout: 180_000 }, async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'discovery-status-page-'));
  const shots = await mkdtemp(join(tmpdir(), 'discovery-status-shot-'));
  let served: Served | null = null;
  let browser: Browser | null = null;
  try {
    served = await startServe(['--config', join(DEMO_DIR, 'discovery.yaml'), '--state-dir', stateDir], { DISCOVERY_ADMIN_TOKEN: TOKEN, DISCOVERY_LOG_LEVEL: 'warn' });
    const s = served;
    // The meshed caller asks for reviews: HAProxy first, the ClusterIP once its Sidecar propagated.
    assert.equal(await lookupAs(s, PRODUCTPAGE, 'reviews'), 200);
    // The other meshed caller asks for search: on the page it waits for its Sidecar, then is on the mesh.
    assert.equal(await lookupAs(s, FRONTEND, 'search'), 200);
    await eventually(async () => assert.equal(await explainRoute(s, 'reviews', PRODUCTPAGE), 'mesh'), 'reviews answered with the ClusterIP for productpage', { timeoutMs: 20_000, intervalMs: 200 });

    browser = await chromium.launch({ executablePath: browserProgram.path!, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const refused = await page.goto(`http://${s.admin}/status`);
    assert.equal(refused?.status(), 401, 'no token: refused');
    assert.equal(await page.locator('[data-count]').count(), 0, 'no status data without the token');

    await page.fill('input[name="token"]', 'not-the-token');
    await Promise.all([page.waitForURL('**/status/login'), page.click('button[type="submit"]')]);
    assert.equal(await page.locator('[data-login="failed"]').count(), 1, 'a wrong token is refused');
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(/\/status$/), page.click('button[type="submit"]')]);

    const { world } = loadDemoWorld();
    const expected = expectedCounts(world);
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(await page.locator(`[data-count="${key}"] b`).innerText(), String(value), `${key} services`);
    }
    assert.match(await page.locator('tr[data-service="reviews"] td[data-callers="mesh"]').innerText(), /bookinfo\/productpage/);
    assert.match(await page.locator('tr[data-service="search"]').innerText(), /shop\/frontend/, 'frontend is waiting for its Sidecar or already on the mesh');
    assert.match(await page.locator('tr[data-reason="mapping-ambiguous"]').innerText(), /payments/);
    assert.match(await page.locator('tr[data-reason="target-not-in-kubernetes"]').innerText(), /billing[\s\S]*legacy-auth[\s\S]*notifications/);
    for (const source of ['consul-snapshot', 'kube-snapshot']) assert.match(await page.locator(`tr[data-source="${source}"]`).innerText(), /\tyes\t/, `${source} synced`);
    assert.equal(await page.locator('[data-mode]').getAttribute('data-mode'), 'hybrid');

    // A suggested action, run as shown: pin a meshed service; the page then shows who and why.
    const commands = await page.locator('code[data-command]').allInnerTexts();
    const pinCommand = commands.find((c) => c.startsWith('discovery pin '));
    assert.ok(pinCommand, `a pin command is suggested: ${commands.join(' | ')}`);
    await runShown(pinCommand, s, 'checking the v2 rollout');
    await page.reload();
    const pinned = pinCommand.split(' ')[2]!;
    const pinRow = await page.locator(`tr[data-pin="${pinned}"]`).innerText();
    assert.match(pinRow, /checking the v2 rollout/);
    assert.match(pinRow, /via 127\.0\.0\.1/, 'who: the actor and the address it came from');
    const unpin = (await page.locator('code[data-command]').allInnerTexts()).find((c) => c.startsWith(`discovery unpin ${pinned}`));
    assert.ok(unpin, 'the page shows how to undo the pin');

    const html = await page.content();
    assert.ok(!html.includes(TOKEN), 'the token is not in the page');
    const cookies = await page.context().cookies();
    assert.ok(cookies.every((c) => !c.value.includes(TOKEN)), 'nor in a cookie');
    assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path]), [['discovery_status', true, 'Strict', '/status']]);

    const shot = join(shots, 'status-page.png');
    assert.ok((await page.screenshot({ path: shot, fullPage: true })).length > 10_000, 'a screenshot of the page');
    if (process.env['DISCOVERY_UPDATE_DOCS'] === '1') await copyFile(shot, join(ROOT, 'docs', 'status-page.png'));

    await runShown(unpin, s, 'done');
    await page.reload();
    assert.equal(await page.locator(`tr[data-pin="${pinned}"]`).count(), 0, 'unpinned');
  } finally {
    await browser?.close();
    await served?.stop();
    await rm(stateDir, { recursive: true, force: true });
    await rm(shots, { recursive: true, force: true });
  }
});
