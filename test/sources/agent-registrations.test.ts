// This agent's own registrations as a source of Consul data: TTL checks expire on the injected
// clock, the catalog merge keeps Consul's instance order, and a corrupt state file stops the start.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiscoveryError } from '../../src/platform/errors.ts';
import { withAgentInstances } from '../../src/sources/agent/merge.ts';
import { AgentRegistrations, type ServiceRegistration } from '../../src/sources/agent/registrations.ts';
import { IndexClock } from '../../src/world/changes.ts';
import { tempStateDir } from '../support/app.ts';
import { eventually } from '../support/eventually.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { catalog } from '../support/world-fixtures.ts';

const NODE = { name: 'agent-1', address: '10.0.0.9', datacenter: 'dc1' };

function registration(over: Partial<ServiceRegistration> = {}): ServiceRegistration {
  return { id: 'orders-1', name: 'orders', tags: [], address: '10.2.0.5', port: 8080, meta: {}, weights: { Passing: 1, Warning: 1 }, enableTagOverride: false, taggedAddresses: {}, checks: [], ...over };
}

const ttlCheck = { checkId: '', name: '', type: 'ttl', status: '' as const, notes: '', interval: '', timeout: '', ttl: '30s' };

test('agent: a TTL check turns critical on the injected clock when its client stops heartbeating', async () => {
  const clock = new ManualClock();
  const agent = await AgentRegistrations.open({ dir: await tempStateDir(), indexClock: new IndexClock(() => clock.now()), clock });
  let changes = 0;
  agent.onChange(() => changes++);
  await agent.register(registration({ checks: [ttlCheck] }));
  assert.equal(agent.checks()[0]!.Status, 'critical', 'a TTL check starts critical, as in Consul');
  await agent.updateCheck('service:orders-1', 'passing', '');
  assert.equal(agent.checks()[0]!.Status, 'passing');
  await clock.advance(29_000);
  await agent.updateCheck('service:orders-1', 'passing', ''); // heartbeat: re-arms the TTL
  await clock.advance(29_000);
  assert.equal(agent.checks()[0]!.Status, 'passing', 'heartbeats keep it passing');
  const before = changes;
  await clock.advance(2_000);
  // The expiry is a write like any other (persisted first, then applied).
  await eventually(() => assert.equal(agent.checks()[0]!.Status, 'critical'), 'the TTL check to expire');
  assert.equal(agent.checks()[0]!.Output, 'TTL expired');
  assert.equal(changes, before + 1);
  agent.close();
  assert.equal(clock.pending, 0, 'close() cancels every TTL timer');
});

test('agent: refusals carry the kind the HTTP front end maps to Consul status codes', async () => {
  const clock = new ManualClock();
  const agent = await AgentRegistrations.open({ dir: await tempStateDir(), indexClock: new IndexClock(), clock });
  await agent.register(registration({ checks: [{ ...ttlCheck, type: 'http', ttl: '' }] }));
  await assert.rejects(agent.deregister('nope'), { kind: 'unknown-service' });
  await assert.rejects(agent.updateCheck('nope', 'passing', ''), { kind: 'unknown-check' });
  await assert.rejects(agent.updateCheck('service:orders-1', 'passing', ''), { kind: 'not-ttl' });
  await assert.rejects(agent.updateCheck('service:orders-1', 'sideways', ''), { kind: 'bad-status' });
  assert.equal(agent.checks()[0]!.Status, 'passing', 'refused requests change nothing');
});

test('agent: merged instances follow Consul order (node, then ID, lower-cased first) whatever their source', async () => {
  const clock = new ManualClock();
  const agent = await AgentRegistrations.open({ dir: await tempStateDir(), indexClock: new IndexClock(), clock });
  await agent.register(registration({ id: 'web-b', name: 'web' }));
  await agent.register(registration({ id: 'Web-A', name: 'web' }));
  const source = catalog([
    { service: 'web', node: 'Zeta', address: '10.0.0.1', port: 80 },
    { service: 'web', node: 'alpha', address: '10.0.0.2', port: 80 },
    { service: 'web', node: 'Beta', address: '10.0.0.3', port: 80 },
  ]);
  const merged = withAgentInstances(source, agent.instances({ ...NODE, name: 'agent-1' }));
  const order = merged.services.get('web')!.instances.map((i) => `${i.node.Node}/${i.service.ID}`);
  assert.deepEqual(order, ['agent-1/Web-A', 'agent-1/web-b', 'alpha/web-alpha', 'Beta/web-Beta', 'Zeta/web-Zeta']);
});

test('agent: a corrupt state file stops the start with a message naming it', async () => {
  const dir = await tempStateDir();
  await writeFile(join(dir, 'agent-services.json'), '{"services": [{"ID": 7}], "checks": []}');
  await assert.rejects(AgentRegistrations.open({ dir, indexClock: new IndexClock(), clock: new ManualClock() }), (err: unknown) => {
    assert.ok(err instanceof DiscoveryError);
    assert.equal(err.code, 'DSC_ERR_STATE');
    assert.match(err.message, /agent-services\.json is invalid: .*fix or remove it/);
    return true;
  });
});
