// The Grafana dashboard's shape: importable JSON whose panels each have a unique id, a place on the
// 24-column grid that no other panel takes, the datasource variable, and queries with distinct refIds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}

test('the dashboard: unique ids, panels on the grid without overlap, every query on the datasource variable', async () => {
  const dash = JSON.parse(await readFile(fileURLToPath(new URL('../../deploy/observability/discovery-dashboard.json', import.meta.url)), 'utf8')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string }> };
  };
  assert.equal(dash.uid, 'discovery-overview');
  assert.deepEqual(dash.templating.list.map((v) => v.name), ['datasource', 'namespace', 'job']);
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const taken = new Set<string>();
  for (const p of dash.panels) {
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title}: on the grid`);
    for (let y = g.y; y < g.y + g.h; y++) {
      for (let x = g.x; x < g.x + g.w; x++) {
        const cell = `${x},${y}`;
        assert.ok(!taken.has(cell), `${p.title}: overlaps another panel at ${cell}`);
        taken.add(cell);
      }
    }
    if (p.type === 'row') continue;
    assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: datasource variable`);
    const targets = p.targets ?? [];
    assert.ok(targets.length > 0, `${p.title}: has queries`);
    assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length, `${p.title}: distinct refIds`);
    for (const t of targets) {
      assert.equal(t.datasource?.uid, '${datasource}');
      assert.match(t.expr, /job=~"\$job", namespace=~"\$namespace"/, `${p.title}: filtered by the job and namespace variables`);
    }
  }
  const titles = dash.panels.map((p) => p.title);
  for (const t of ['Answers by route and reason', 'Share of mesh answers', 'Replicas per mode', 'Pins', 'Sidecars and pairs', 'Lease holder', 'DNS latency', 'HTTP latency (not blocking)', 'Parked blocking queries', 'Consul upstream: time since last answer', 'Kubernetes: stale and watch restarts']) {
    assert.ok(titles.includes(t), `panel "${t}"`);
  }
});
