// The bodies of PUT /v1/catalog/register and PUT /v1/agent/service/register, read into one
// registration shape (Consul's structs.RegisterRequest after the catalog endpoint's pre-apply
// fix-ups: a check's Node defaults to the request's, its CheckID to its Name, a service's ID to
// its name).

import { bool, decodeFailed, field, int, isObject, object, objects, str, stringMap, strings, type JsonObject } from './decode.ts';
import { ConsulHttpError, type CheckStatus, type ServiceAddress } from './types.ts';

export interface ServiceInput {
  readonly id: string;
  readonly name: string;
  readonly tags: readonly string[];
  readonly address: string;
  readonly taggedAddresses: Readonly<Record<string, ServiceAddress>> | null;
  readonly meta: Readonly<Record<string, string>> | null;
  readonly port: number;
  readonly weights: { readonly Passing: number; readonly Warning: number };
  readonly enableTagOverride: boolean;
}

export interface CheckInput {
  readonly node: string;
  readonly checkId: string;
  readonly name: string;
  readonly status: CheckStatus;
  readonly notes: string;
  readonly output: string;
  readonly serviceId: string;
  readonly type: string;
  readonly interval: string;
  readonly timeout: string;
}

export interface RegisterRequest {
  readonly node: string;
  readonly address: string;
  readonly id: string;
  readonly taggedAddresses: Readonly<Record<string, string>> | null;
  readonly nodeMeta: Readonly<Record<string, string>> | null;
  readonly skipNodeUpdate: boolean;
  readonly service: ServiceInput | null;
  readonly checks: readonly CheckInput[];
}

const STATUSES: ReadonlySet<string> = new Set(['passing', 'warning', 'critical']);

function status(raw: string, fallback: CheckStatus): CheckStatus {
  if (raw === '') return fallback;
  if (!STATUSES.has(raw)) throw decodeFailed(`invalid check status: "${raw}"`);
  return raw as CheckStatus;
}

function serviceAddresses(obj: JsonObject, where: string): Record<string, ServiceAddress> | null {
  const raw = object(obj, 'TaggedAddresses', where);
  if (!raw || Object.keys(raw).length === 0) return null;
  const out: Record<string, ServiceAddress> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!isObject(v)) throw decodeFailed(`json: cannot unmarshal ${typeof v} into Go struct field ${where}.TaggedAddresses of type structs.ServiceAddress`);
    out[k] = { Address: str(v, 'Address', 'ServiceAddress'), Port: int(v, 'Port', 'ServiceAddress') };
  }
  return out;
}

function weights(obj: JsonObject, where: string): { Passing: number; Warning: number } {
  const w = object(obj, 'Weights', where);
  if (!w) return { Passing: 1, Warning: 1 };
  return { Passing: int(w, 'Passing', 'Weights'), Warning: int(w, 'Warning', 'Weights') };
}

/** The `Service` object of a catalog registration (structs.NodeService field names). */
function catalogService(raw: JsonObject): ServiceInput {
  const where = 'NodeService';
  const name = str(raw, 'Service', where);
  if (name === '') throw new ConsulHttpError(500, 'rpc error making call: Must provide service name (Service.Service) in registration');
  const id = str(raw, 'ID', where) || name;
  return {
    id,
    name,
    tags: strings(raw, 'Tags', where),
    address: str(raw, 'Address', where),
    taggedAddresses: serviceAddresses(raw, where),
    meta: stringMap(raw, 'Meta', where),
    port: int(raw, 'Port', where),
    weights: weights(raw, where),
    enableTagOverride: bool(raw, 'EnableTagOverride', where),
  };
}

function catalogCheck(raw: JsonObject, node: string): CheckInput {
  const where = 'HealthCheck';
  const name = str(raw, 'Name', where);
  const checkNode = str(raw, 'Node', where) || node;
  if (checkNode.toLowerCase() !== node.toLowerCase()) {
    throw new ConsulHttpError(500, `rpc error making call: failed inserting check: check node "${checkNode}" does not match node "${node}"`);
  }
  const definition = object(raw, 'Definition', where);
  return {
    node,
    checkId: str(raw, 'CheckID', where) || name,
    name,
    status: status(str(raw, 'Status', where), 'critical'),
    notes: str(raw, 'Notes', where),
    output: str(raw, 'Output', where),
    serviceId: str(raw, 'ServiceID', where),
    type: str(raw, 'Type', where),
    interval: definition ? str(definition, 'Interval', 'HealthCheckDefinition') : '',
    timeout: definition ? str(definition, 'Timeout', 'HealthCheckDefinition') : '',
  };
}

/** PUT /v1/catalog/register. */
export function catalogRegistration(body: unknown): RegisterRequest {
  if (!isObject(body)) throw decodeFailed('json: cannot unmarshal non-object into Go value of type structs.RegisterRequest');
  const where = 'RegisterRequest';
  const node = str(body, 'Node', where);
  const skipNodeUpdate = bool(body, 'SkipNodeUpdate', where);
  const address = str(body, 'Address', where);
  if (node === '') throw new ConsulHttpError(500, 'rpc error making call: Must provide node');
  if (address === '' && !skipNodeUpdate) throw new ConsulHttpError(500, 'rpc error making call: Must provide address if SkipNodeUpdate is not set');
  const svc = object(body, 'Service', where);
  const single = object(body, 'Check', where);
  const checks = [...objects(body, 'Checks', where), ...(single ? [single] : [])].map((c) => catalogCheck(c, node));
  return {
    node,
    address,
    id: str(body, 'ID', where),
    taggedAddresses: stringMap(body, 'TaggedAddresses', where),
    nodeMeta: stringMap(body, 'NodeMeta', where),
    skipNodeUpdate,
    service: svc ? catalogService(svc) : null,
    checks,
  };
}

function agentCheckType(raw: JsonObject): string {
  if (field(raw, 'TTL')) return 'ttl';
  if (field(raw, 'HTTP')) return 'http';
  if (field(raw, 'TCP')) return 'tcp';
  if (field(raw, 'GRPC')) return 'grpc';
  if (field(raw, 'Args') || field(raw, 'ScriptArgs')) return 'script';
  return '';
}

/** PUT /v1/agent/service/register (structs.ServiceDefinition), placed on the agent's node. */
export function agentRegistration(body: unknown, agentNode: string, agentAddress: string): RegisterRequest {
  if (!isObject(body)) throw decodeFailed('json: cannot unmarshal non-object into Go value of type structs.ServiceDefinition');
  const where = 'ServiceDefinition';
  const name = str(body, 'Name', where);
  if (name === '') throw new ConsulHttpError(400, 'Missing service name');
  const id = str(body, 'ID', where) || name;
  const single = object(body, 'Check', where);
  const defs = [...(single ? [single] : []), ...objects(body, 'Checks', where)];
  const checks = defs.map((c, i): CheckInput => ({
    node: agentNode,
    checkId: str(c, 'CheckID', 'CheckType') || str(c, 'ID', 'CheckType') || (defs.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`),
    name: str(c, 'Name', 'CheckType') || `Service '${name}' check`,
    status: status(str(c, 'Status', 'CheckType'), 'critical'),
    notes: str(c, 'Notes', 'CheckType'),
    output: '',
    serviceId: id,
    type: agentCheckType(c),
    interval: str(c, 'Interval', 'CheckType'),
    timeout: str(c, 'Timeout', 'CheckType'),
  }));
  return {
    node: agentNode,
    address: agentAddress,
    id: '',
    taggedAddresses: null,
    nodeMeta: null,
    skipNodeUpdate: true,
    service: {
      id,
      name,
      tags: strings(body, 'Tags', where),
      address: str(body, 'Address', where),
      taggedAddresses: serviceAddresses(body, where),
      meta: stringMap(body, 'Meta', where),
      port: int(body, 'Port', where),
      weights: weights(body, where),
      enableTagOverride: bool(body, 'EnableTagOverride', where),
    },
    checks,
  };
}
