// compileSchema: valid values pass through typed; invalid ones throw an error naming the field and
// the rule in plain words.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema } from '../../src/platform/json-schema.ts';

interface Doc {
  mode: string;
  count?: number;
  note?: string | null;
  pins: Array<{ service: string; caller?: string }>;
}

const DOC = {
  type: 'object',
  required: ['mode', 'pins'],
  properties: {
    mode: { enum: ['hybrid', 'shadow', 'consul-only'] },
    count: { type: 'integer', minimum: 1, maximum: 10 },
    note: { type: ['string', 'null'], minLength: 1, maxLength: 5 },
    pins: {
      type: 'array',
      maxItems: 3,
      items: {
        type: 'object',
        required: ['service'],
        additionalProperties: false,
        properties: { service: { type: 'string', pattern: '^[a-z]+$' }, caller: { type: 'string' }, 'odd key': { type: 'string' } },
      },
    },
  },
};

const check = compileSchema<Doc>(DOC, { name: 'control state' });

function messageOf(value: unknown): string {
  try {
    check(value);
  } catch (err) {
    return (err as Error).message;
  }
  return '(valid)';
}

test('json schema: a valid value is returned as is', () => {
  const v = { mode: 'shadow', pins: [{ service: 'payments', caller: 'a/b' }] };
  assert.equal(check(v), v);
});

test('json schema: each rule is reported in plain words with the failing path', () => {
  const cases: Array<[unknown, string]> = [
    ['nope', 'control state must be an object'],
    [{ pins: [] }, 'mode is required'],
    [{ mode: 'chaos', pins: [] }, 'mode must be one of hybrid, shadow, consul-only'],
    [{ mode: 'shadow', pins: {} }, 'pins must be an array'],
    [{ mode: 'shadow', pins: [{}] }, 'pins[0].service is required'],
    [{ mode: 'shadow', pins: [{ service: 'ok' }, { service: 'Not OK' }] }, 'pins[1].service must match ^[a-z]+$'],
    [{ mode: 'shadow', pins: [{ service: 'ok', extra: 1 }] }, 'pins[0].extra is not a known field'],
    [{ mode: 'shadow', pins: [{ service: 'ok', 'odd key': 3 }] }, 'pins[0]["odd key"] must be a string'],
    [{ mode: 'shadow', pins: [1, 2, 3, 4] }, 'pins must have at most 3 items'],
    [{ mode: 'shadow', pins: [], count: 1.5 }, 'count must be an integer'],
    [{ mode: 'shadow', pins: [], count: 0 }, 'count must be at least 1'],
    [{ mode: 'shadow', pins: [], count: 11 }, 'count must be at most 10'],
    [{ mode: 'shadow', pins: [], note: 3 }, 'note must be a string or null'],
    [{ mode: 'shadow', pins: [], note: '' }, 'note must not be empty'],
    [{ mode: 'shadow', pins: [], note: 'too long' }, 'note must be at most 5 characters long'],
  ];
  for (const [value, expected] of cases) assert.equal(messageOf(value), expected, JSON.stringify(value));
});

test('json schema: without coerceTypes strings are not numbers; with it they are converted', () => {
  const schema = { type: 'object', properties: { limit: { type: 'integer', minimum: 1 } } };
  assert.throws(() => compileSchema(schema)({ limit: '5' }), /^Error: limit must be an integer$/);
  const query = compileSchema<{ limit?: number }>(schema, { name: 'query', coerceTypes: true });
  assert.deepEqual(query({ limit: '5' }), { limit: 5 });
  assert.throws(() => query({ limit: 'five' }), /limit must be an integer/);
  assert.throws(() => query({ limit: '0' }), /limit must be at least 1/);
});

test('json schema: keys needing escapes in the JSON Pointer come back readable', () => {
  const schema = { type: 'object', properties: { 'a/b': { type: 'object', properties: { 'c~d': { type: 'string' } } } } };
  assert.throws(() => compileSchema(schema)({ 'a/b': { 'c~d': 1 } }), /^Error: \["a\/b"\]\["c~d"\] must be a string$/);
});
