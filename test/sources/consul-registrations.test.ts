import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCatalog } from '../../src/sources/consul/catalog-build.ts';
import { parseRegistrations } from '../../src/sources/consul/registration-body.ts';
import { aggregateStatus } from '../../src/world/consul-types.ts';
import { assertSnapshotError } from './helpers.ts';

const catalogOf = (regs: unknown[], dc = 'dc1') => buildCatalog(parseRegistrations(JSON.stringify(regs), 'consul.json'), dc, 'consul.json');

test('defaults are filled in the way Consul renders a catalog registration', () => {
  const cat = catalogOf([{ Node: 'n1', Address: '10.0.0.1', Service: { Service: 'web', Port: 80 }, Checks: [{ CheckID: 'web-alive', Name: 'alive', ServiceID: 'web' }] }]);
  const web = cat.services.get('web');
  assert.ok(web);
  const inst = web.instances[0]!;
  assert.deepEqual(inst.service, { ID: 'web', Service: 'web', Tags: [], Address: '', Meta: {}, Port: 80, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, CreateIndex: 10, ModifyIndex: 10 });
  assert.deepEqual(inst.node, { ID: '', Node: 'n1', Address: '10.0.0.1', Datacenter: 'dc1', TaggedAddresses: null, Meta: null, CreateIndex: 10, ModifyIndex: 10 });
  const check = inst.checks[0]!;
  // A check registered without a status is critical in Consul's catalog.
  assert.equal(check.Status, 'critical');
  assert.equal(check.ServiceName, 'web');
  assert.deepEqual(check.ServiceTags, []);
  assert.equal(check.Node, 'n1');
});

test('node checks apply to every instance on the node, first; service checks bind to their instance', () => {
  const cat = catalogOf([
    { Node: 'n1', Address: '10.0.0.1', Service: { ID: 'a1', Service: 'a', Tags: ['t'], Port: 1 }, Checks: [{ CheckID: 'serfHealth', Name: 'Serf', Status: 'passing' }, { CheckID: 'svc:a1', Name: 'a', Status: 'warning', ServiceID: 'a1' }] },
    { Node: 'n1', Address: '10.0.0.1', Service: { ID: 'b1', Service: 'b', Port: 2 }, Check: { CheckID: 'svc:b1', Name: 'b', Status: 'passing', ServiceID: 'b1' } },
  ]);
  const a = cat.services.get('a')!.instances[0]!;
  const b = cat.services.get('b')!.instances[0]!;
  assert.deepEqual(a.checks.map((c) => c.CheckID), ['serfHealth', 'svc:a1']);
  assert.deepEqual(b.checks.map((c) => c.CheckID), ['serfHealth', 'svc:b1']);
  assert.deepEqual(a.checks[1]!.ServiceTags, ['t']);
  assert.deepEqual(cat.nodeChecks.get('n1')!.map((c) => c.CheckID), ['serfHealth']);
  assert.equal(aggregateStatus(a.checks), 'warning');
  assert.equal(aggregateStatus(b.checks), 'passing');
  assert.equal(cat.nodes.size, 1);
  // The second registration of n1 is its second touch: index 11; never 0.
  assert.equal(b.service.CreateIndex, 11);
  assert.equal(cat.nodes.get('n1')!.ModifyIndex, 11);
});

test('instances are sorted by node then service ID; services keyed lower-case, first spelling kept', () => {
  const cat = catalogOf([
    { Node: 'zeta', Address: '10.0.0.3', Service: { ID: 'w-2', Service: 'Web', Port: 80 } },
    { Node: 'alpha', Address: '10.0.0.1', Service: { ID: 'w-9', Service: 'web', Port: 80 } },
    { Node: 'alpha', Address: '10.0.0.1', Service: { ID: 'w-1', Service: 'web', Port: 80 } },
  ]);
  const web = cat.services.get('web')!;
  assert.equal(web.name, 'Web');
  assert.deepEqual(web.instances.map((i) => `${i.node.Node}/${i.service.ID}`), ['alpha/w-1', 'alpha/w-9', 'zeta/w-2']);
});

test('registering the same service ID again replaces it; SkipNodeUpdate keeps the node fields', () => {
  const cat = catalogOf([
    { Node: 'n1', Address: '10.0.0.1', NodeMeta: { rack: 'r1' }, Service: { ID: 's', Service: 'web', Port: 80 } },
    { Node: 'n1', SkipNodeUpdate: true, Service: { ID: 's', Service: 'web', Port: 81 } },
  ]);
  const inst = cat.services.get('web')!.instances;
  assert.equal(inst.length, 1);
  assert.equal(inst[0]!.service.Port, 81);
  assert.equal(inst[0]!.service.CreateIndex, 10);
  assert.equal(inst[0]!.service.ModifyIndex, 11);
  assert.deepEqual(inst[0]!.node.Meta, { rack: 'r1' });
  assert.equal(inst[0]!.node.ModifyIndex, 10);
});

test('indexes of one node do not move when unrelated registrations are added before it', () => {
  const b = { Node: 'b', Address: '10.0.0.2', Service: { Service: 'web', Port: 80 } };
  const before = catalogOf([b]).services.get('web')!.instances[0]!;
  const after = catalogOf([{ Node: 'a', Address: '10.0.0.1', Service: { Service: 'other', Port: 80 } }, b]).services.get('web')!.instances[0]!;
  assert.deepEqual(after, before);
});

test('an empty array is an empty catalog', () => {
  const cat = catalogOf([]);
  assert.equal(cat.services.size, 0);
  assert.equal(cat.nodes.size, 0);
});

const bad: Array<[string, string, string[]]> = [
  ['malformed JSON', '[{"Node": "n1",}]', ['consul.json: not valid JSON', 'line 1']],
  ['not an array', '{"Node":"n1"}', ['consul.json: must be a JSON array']],
  ['entry not an object', '[1]', ['[0] must be an object']],
  ['missing Node', '[{"Address":"10.0.0.1"}]', ['[0].Node is required']],
  ['empty Node', '[{"Node":"","Address":"10.0.0.1"}]', ['[0].Node must not be empty']],
  ['missing Address', '[{"Node":"n"}]', ['[0].Address is required']],
  ['port out of range', '[{"Node":"n","Address":"a"},{"Node":"n","Address":"a"},{"Node":"n","Address":"a"},{"Node":"n","Address":"a","Service":{"Service":"s","Port":70000}}]', ['consul.json: [3].Service.Port must be an integer 0-65535']],
  ['port as string', '[{"Node":"n","Address":"a","Service":{"Service":"s","Port":"80"}}]', ['[0].Service.Port must be an integer 0-65535', 'the string "80"']],
  ['tags not strings', '[{"Node":"n","Address":"a","Service":{"Service":"s","Tags":["a",1]}}]', ['[0].Service.Tags[1] must be a string']],
  ['service name missing', '[{"Node":"n","Address":"a","Service":{"Port":1}}]', ['[0].Service.Service is required']],
  ['control character in name', '[{"Node":"n","Address":"a","Service":{"Service":"we\\u0000b"}}]', ['[0].Service.Service must not contain control characters']],
  ['unknown field (typo)', '[{"Node":"n","Address":"a","Service":{"Service":"s","port":1}}]', ['[0].Service.port is not a known field; did you mean Port?']],
  ['bad status', '[{"Node":"n","Address":"a","Checks":[{"CheckID":"c","Name":"c","Status":"ok"}]}]', ['[0].Checks[0].Status must be passing, warning or critical']],
  ['check without CheckID', '[{"Node":"n","Address":"a","Checks":[{"Name":"c"}]}]', ['[0].Checks[0].CheckID is required']],
  ['meta value not a string', '[{"Node":"n","Address":"a","NodeMeta":{"k":1}}]', ['[0].NodeMeta.k must be a string']],
  ['node ID not a UUID', '[{"Node":"n","Address":"a","ID":"node-1"}]', ['[0].ID must be a UUID']],
  ['connect proxy', '[{"Node":"n","Address":"a","Service":{"Service":"s","Kind":"connect-proxy"}}]', ['[0].Service.Kind is "connect-proxy"']],
  ['weights below 1', '[{"Node":"n","Address":"a","Service":{"Service":"s","Weights":{"Passing":0,"Warning":1}}}]', ['[0].Service.Weights.Passing must be an integer 1-65535']],
];

for (const [title, text, fragments] of bad) {
  test(`parseRegistrations rejects ${title}`, () => {
    assertSnapshotError(() => buildCatalog(parseRegistrations(text, 'consul.json'), 'dc1', 'consul.json'), ...fragments);
  });
}

const refused: Array<[string, unknown[], string[]]> = [
  ['another datacenter', [{ Node: 'n', Address: 'a', Datacenter: 'dc2' }], ['consul.json: [0].Datacenter is "dc2"', '"dc1"']],
  ['a check of an unknown service', [{ Node: 'n', Address: 'a', Checks: [{ CheckID: 'c', Name: 'c', ServiceID: 'nope' }] }], ['[0].Checks[0].ServiceID "nope" is not a service registered on node "n"']],
  ['a check of another node', [{ Node: 'n', Address: 'a', Checks: [{ Node: 'm', CheckID: 'c', Name: 'c' }] }], ['[0].Checks[0].Node is "m"']],
  ['SkipNodeUpdate for a new node without Address', [{ Node: 'n', SkipNodeUpdate: true }], ['[0].SkipNodeUpdate is set but node "n" has no earlier registration']],
  [
    'one node ID for two nodes',
    [
      { Node: 'n', Address: 'a', ID: '11111111-2222-3333-4444-555555555555' },
      { Node: 'm', Address: 'b', ID: '11111111-2222-3333-4444-555555555555' },
    ],
    ['[1].ID 11111111-2222-3333-4444-555555555555 is already the ID of node "n"'],
  ],
];

for (const [title, regs, fragments] of refused) {
  test(`buildCatalog refuses ${title}`, () => {
    assertSnapshotError(() => catalogOf(regs), ...fragments);
  });
}

test('the single Check field is applied after Checks and named as Check in errors', () => {
  const cat = catalogOf([{ Node: 'n', Address: 'a', Checks: [{ CheckID: 'c', Name: 'from Checks', Status: 'passing' }], Check: { CheckID: 'c', Name: 'from Check', Status: 'warning' } }]);
  assert.equal(cat.nodeChecks.get('n')![0]!.Name, 'from Check');
  assertSnapshotError(() => catalogOf([{ Node: 'n', Address: 'a', Check: { CheckID: 'c', Name: 'c', ServiceID: 'x' } }]), '[0].Check.ServiceID "x" is not a service');
});

test('each parsed check carries where it was written, Checks first, then Check', () => {
  const [body] = parseRegistrations(JSON.stringify([{ Node: 'n', Address: 'a', Checks: [{ CheckID: 'a', Name: 'a' }, { CheckID: 'b', Name: 'b' }], Check: { CheckID: 'c', Name: 'c' } }]), 'consul.json');
  assert.deepEqual(body!.Checks!.map((c) => [c.path, c.CheckID]), [['Checks[0]', 'a'], ['Checks[1]', 'b'], ['Check', 'c']]);
});
