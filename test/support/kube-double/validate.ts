// What the API server checks in a body before storing it: the object's identity against the URL,
// name syntax, and Lease MicroTime fields (which decode only with exactly six fractional digits).

import { randomInt } from 'node:crypto';
import { badRequest, invalid } from './status.ts';
import type { ResourceType } from './resources.ts';
import type { KubeObject } from './store.ts';

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function nameProblem(type: ResourceType, name: string): string | null {
  if (type.kind === 'Namespace') {
    if (name.length <= 63 && LABEL_1123.test(name)) return null;
    return `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`;
  }
  if (type.kind === 'Service') {
    if (name.length <= 63 && LABEL_1035.test(name)) return null;
    return `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`;
  }
  if (name.length <= 253 && SUBDOMAIN.test(name)) return null;
  return `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
}

const GENERATED_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * Decodes a request body for this URL as the API server does before anything else: kind and
 * apiVersion (filled in for built-in types, required for custom ones), the namespace and name
 * against the URL (`name` is the URL's object name, or null for a create, where generateName
 * applies), and Lease MicroTimes. Returns a fresh copy; throws a 400 Status.
 */
export function decodeBody(type: ResourceType, body: unknown, namespace: string | null, name: string | null): KubeObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body of the request was not a JSON object');
  const object = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  for (const field of ['kind', 'apiVersion'] as const) {
    const value = object[field];
    if (value === undefined || value === '') {
      if (type.custom) throw badRequest(`Object '${field === 'kind' ? 'Kind' : 'apiVersion'}' is missing in '${JSON.stringify(body)}'`);
      object[field] = field === 'kind' ? type.kind : type.apiVersion;
    }
  }
  if (object.apiVersion !== type.apiVersion || object.kind !== type.kind) {
    throw badRequest(`the object provided is of ${String(object.apiVersion)}, Kind=${String(object.kind)}, but this URL serves ${type.apiVersion}, Kind=${type.kind}`);
  }
  const metadata = object.metadata;
  if (metadata === undefined || metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) object.metadata = {};
  const meta = object.metadata as Record<string, unknown>;
  if (type.namespaced) {
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = namespace;
  } else delete meta.namespace;
  if (name !== null) {
    if (meta.name !== name) throw badRequest(`the name of the object (${typeof meta.name === 'string' ? meta.name : ''}) does not match the name on the URL (${name})`);
  } else if ((meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '') {
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += GENERATED_NAME_ALPHABET[randomInt(GENERATED_NAME_ALPHABET.length)];
    meta.name = `${meta.generateName}${suffix}`;
  }
  if (type.kind === 'Lease') checkMicroTimes(type, object as KubeObject);
  return object as KubeObject;
}

/** Validation (422 Invalid) shared by API writes and the double's direct writes. */
export function validateObject(type: ResourceType, object: KubeObject): void {
  const meta = object.metadata;
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (name === '') {
    throw invalid(type, '', [{ field: 'metadata.name', type: 'FieldValueRequired', detail: 'name or generateName is required' }]);
  }
  const problem = nameProblem(type, name);
  if (problem) throw invalid(type, name, [{ field: 'metadata.name', type: 'FieldValueInvalid', value: JSON.stringify(name), detail: problem }]);
}

// Lease times are metav1.MicroTime, decoded with the layout 2006-01-02T15:04:05.000000Z07:00.
const MICRO_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/;
const ZONE = /^(Z|[+-]\d{2}:\d{2})/;

/** The reason Go's time.Parse gives for a MicroTime string, or null when it parses. */
export function microTimeProblem(value: string): string | null {
  const head = DATE_TIME.exec(value);
  if (!head) return `cannot parse ${JSON.stringify(value)} as "2006"`;
  const afterSeconds = value.slice(head[0].length);
  if (afterSeconds.length < 7 || !/^\.\d{6}/.test(afterSeconds)) return `cannot parse ${JSON.stringify(afterSeconds)} as ".000000"`;
  const afterFraction = afterSeconds.slice(7);
  const zone = ZONE.exec(afterFraction);
  if (!zone) return `cannot parse ${JSON.stringify(afterFraction)} as "Z07:00"`;
  const extra = afterFraction.slice(zone[0].length);
  if (extra !== '') return `extra text: ${JSON.stringify(extra)}`;
  return null;
}

function checkMicroTimes(type: ResourceType, object: KubeObject): void {
  const spec = object.spec;
  if (spec === undefined || spec === null || typeof spec !== 'object') return;
  for (const field of ['acquireTime', 'renewTime'] as const) {
    const value = (spec as Record<string, unknown>)[field];
    if (value === undefined || value === null) continue;
    const prefix = `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}`;
    if (typeof value !== 'string') throw badRequest(`${prefix}: json: cannot unmarshal ${typeof value} into Go struct field LeaseSpec.spec.${field} of type string`);
    const problem = microTimeProblem(value);
    if (problem === null) continue;
    const detail = problem.startsWith('extra text') ? `parsing time ${JSON.stringify(value)}: ${problem}` : `parsing time ${JSON.stringify(value)} as "${MICRO_LAYOUT}": ${problem}`;
    throw badRequest(`${prefix}: ${detail}`);
  }
}
