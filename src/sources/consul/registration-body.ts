// Consul snapshot files: a JSON array of catalog registrations, each exactly the body of
// `PUT /v1/catalog/register`. They are validated strictly here (a typo must not silently drop a
// field); catalog-build.ts then applies them the way Consul's catalog would.

import type { CheckStatus, ServiceAddress } from '../../world/consul-types.ts';
import type { Obj } from '../shape.ts';
import { ShapeError, describe, fail, field, item, name, object, onlyFields, optArray, optBool, optInt, optObject, optStr, optStringList, optStringMap, snapshotError, str } from '../shape.ts';

export interface RegistrationCheck {
  /** Where the check was written in its registration ("Checks[2]" or "Check"), for buildCatalog's messages. */
  readonly path: string;
  readonly Node?: string;
  readonly CheckID: string;
  readonly Name: string;
  /** Absent or "": Consul's catalog stores the check as critical. */
  readonly Status?: CheckStatus;
  readonly ServiceID?: string;
  readonly Notes?: string;
  readonly Output?: string;
  readonly Type?: string;
  readonly Interval?: string;
  readonly Timeout?: string;
}

export interface RegistrationService {
  readonly ID?: string;
  readonly Service: string;
  readonly Tags?: readonly string[];
  readonly Address?: string;
  readonly TaggedAddresses?: Readonly<Record<string, ServiceAddress>>;
  readonly Meta?: Readonly<Record<string, string>>;
  readonly Port?: number;
  readonly Weights?: { readonly Passing: number; readonly Warning: number };
  readonly EnableTagOverride?: boolean;
}

export interface RegistrationBody {
  readonly ID?: string;
  readonly Node: string;
  /** Required unless SkipNodeUpdate is set and an earlier registration created the node. */
  readonly Address?: string;
  readonly Datacenter?: string;
  readonly TaggedAddresses?: Readonly<Record<string, string>>;
  readonly NodeMeta?: Readonly<Record<string, string>>;
  readonly Service?: RegistrationService;
  /** `Checks` followed by `Check`, as Consul appends Check to Checks. */
  readonly Checks?: readonly RegistrationCheck[];
  readonly SkipNodeUpdate?: boolean;
}

// Fields Consul accepts that Discovery has no use for (Connect, Enterprise, locality) are listed
// so real exports load; anything else is a typo and rejected.
const BODY_FIELDS = new Set(['ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'NodeMeta', 'Service', 'Check', 'Checks', 'SkipNodeUpdate', 'Partition', 'Namespace', 'PeerName', 'Locality']);
const SERVICE_FIELDS = new Set(['ID', 'Service', 'Tags', 'Address', 'TaggedAddresses', 'Meta', 'Port', 'Weights', 'EnableTagOverride', 'Kind', 'Proxy', 'Connect', 'SocketPath', 'Locality', 'Partition', 'Namespace', 'PeerName']);
const CHECK_FIELDS = new Set(['Node', 'CheckID', 'Name', 'Status', 'ServiceID', 'ServiceName', 'ServiceTags', 'Notes', 'Output', 'Type', 'Interval', 'Timeout', 'ExposedPort', 'Definition', 'Partition', 'Namespace', 'PeerName']);
const STATUSES = new Set(['passing', 'warning', 'critical']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Discovery is Consul CE: an Enterprise partition or namespace other than the default cannot be served. */
function defaultTenancy(o: Obj, path: string): void {
  for (const key of ['Partition', 'Namespace']) {
    const v = optStr(o, key, path);
    if (v !== undefined && v !== '' && v !== 'default') fail(field(path, key), `is ${JSON.stringify(v)}; only the default (Consul CE) is supported`);
  }
}

function readServiceAddresses(o: Obj, path: string): Record<string, ServiceAddress> | undefined {
  const m = optObject(o, 'TaggedAddresses', path);
  if (!m) return undefined;
  const out: Record<string, ServiceAddress> = {};
  for (const [k, v] of Object.entries(m)) {
    const p = field(field(path, 'TaggedAddresses'), k);
    const a = object(v, p);
    onlyFields(a, new Set(['Address', 'Port']), p);
    out[k] = { Address: str(a, 'Address', p), Port: optInt(a, 'Port', p, 0, 65535) ?? 0 };
  }
  return out;
}

function readService(v: unknown, path: string): RegistrationService {
  const o = object(v, path);
  onlyFields(o, SERVICE_FIELDS, path);
  defaultTenancy(o, path);
  const kind = optStr(o, 'Kind', path);
  if (kind !== undefined && kind !== '') fail(field(path, 'Kind'), `is ${JSON.stringify(kind)}; only plain services (Kind "") are supported`);
  const svc: { -readonly [K in keyof RegistrationService]: RegistrationService[K] } = { Service: name(o, 'Service', path) };
  if (o['ID'] !== undefined && o['ID'] !== null && o['ID'] !== '') svc.ID = name(o, 'ID', path);
  const tags = optStringList(o, 'Tags', path);
  if (tags) svc.Tags = tags;
  const address = optStr(o, 'Address', path);
  if (address !== undefined) svc.Address = address;
  const tagged = readServiceAddresses(o, path);
  if (tagged) svc.TaggedAddresses = tagged;
  const meta = optStringMap(o, 'Meta', path);
  if (meta) svc.Meta = meta;
  const port = optInt(o, 'Port', path, 0, 65535);
  if (port !== undefined) svc.Port = port;
  const weights = optObject(o, 'Weights', path);
  if (weights) {
    const p = field(path, 'Weights');
    onlyFields(weights, new Set(['Passing', 'Warning']), p);
    // A field left out keeps Consul's default of 1; Consul refuses a Passing weight below 1.
    svc.Weights = { Passing: optInt(weights, 'Passing', p, 1, 65535) ?? 1, Warning: optInt(weights, 'Warning', p, 0, 65535) ?? 1 };
  }
  const eto = optBool(o, 'EnableTagOverride', path);
  if (eto !== undefined) svc.EnableTagOverride = eto;
  return svc;
}

/** bodyPath: the registration's own path ("[4]"); path: the check's, under it ("[4].Checks[2]"). */
function readCheck(v: unknown, bodyPath: string, path: string): RegistrationCheck {
  const o = object(v, path);
  onlyFields(o, CHECK_FIELDS, path);
  defaultTenancy(o, path);
  const check: { -readonly [K in keyof RegistrationCheck]: RegistrationCheck[K] } = { path: path.slice(bodyPath.length + 1), CheckID: name(o, 'CheckID', path), Name: str(o, 'Name', path) };
  const node = optStr(o, 'Node', path);
  if (node !== undefined && node !== '') check.Node = node;
  const status = optStr(o, 'Status', path);
  if (status !== undefined && status !== '') {
    if (!STATUSES.has(status)) fail(field(path, 'Status'), `must be passing, warning or critical, got ${JSON.stringify(status)}`);
    check.Status = status as CheckStatus;
  }
  const serviceId = optStr(o, 'ServiceID', path);
  if (serviceId !== undefined && serviceId !== '') check.ServiceID = serviceId;
  for (const key of ['Notes', 'Output', 'Type', 'Interval', 'Timeout'] as const) {
    const s = optStr(o, key, path);
    if (s !== undefined) check[key] = s;
  }
  // Interval/Timeout may come only inside Definition (api.HealthCheckDefinition's readable durations).
  const def = optObject(o, 'Definition', path);
  if (def) {
    const p = field(path, 'Definition');
    if (check.Interval === undefined && typeof def['Interval'] === 'string') check.Interval = def['Interval'];
    if (check.Timeout === undefined && typeof def['Timeout'] === 'string') check.Timeout = def['Timeout'];
    for (const key of ['Interval', 'Timeout']) if (def[key] !== undefined && typeof def[key] !== 'string') fail(field(p, key), `must be a duration string like "10s", got ${describe(def[key])}`);
  }
  optInt(o, 'ExposedPort', path, 0, 65535);
  optStr(o, 'ServiceName', path);
  optStringList(o, 'ServiceTags', path);
  return check;
}

function readBody(v: unknown, path: string): RegistrationBody {
  const o = object(v, path);
  onlyFields(o, BODY_FIELDS, path);
  defaultTenancy(o, path);
  const body: { -readonly [K in keyof RegistrationBody]: RegistrationBody[K] } = { Node: name(o, 'Node', path) };
  const id = optStr(o, 'ID', path);
  if (id !== undefined && id !== '') {
    if (!UUID.test(id)) fail(field(path, 'ID'), `must be a UUID (Consul node IDs are), got ${JSON.stringify(id)}`);
    body.ID = id;
  }
  const skip = optBool(o, 'SkipNodeUpdate', path);
  if (skip !== undefined) body.SkipNodeUpdate = skip;
  const address = optStr(o, 'Address', path);
  if (address !== undefined && address !== '') body.Address = address;
  else if (!skip) fail(field(path, 'Address'), 'is required (unless SkipNodeUpdate is true)');
  const dc = optStr(o, 'Datacenter', path);
  if (dc !== undefined && dc !== '') body.Datacenter = dc;
  const tagged = optStringMap(o, 'TaggedAddresses', path);
  if (tagged) body.TaggedAddresses = tagged;
  const meta = optStringMap(o, 'NodeMeta', path);
  if (meta) body.NodeMeta = meta;
  if (o['Service'] !== undefined && o['Service'] !== null) body.Service = readService(o['Service'], field(path, 'Service'));
  const checks: RegistrationCheck[] = [];
  const list = optArray(o, 'Checks', path);
  if (list) list.forEach((c, i) => checks.push(readCheck(c, path, item(field(path, 'Checks'), i))));
  // Consul appends the single Check after Checks (so it wins a CheckID clash).
  if (o['Check'] !== undefined && o['Check'] !== null) checks.push(readCheck(o['Check'], path, field(path, 'Check')));
  if (checks.length > 0) body.Checks = checks;
  return body;
}

/** "Unexpected token } in JSON at position 12" → "line 1, column 13", so the operator can find it. */
function jsonSyntaxMessage(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const pos = /at position (\d+)/.exec(message);
  if (!pos || /line \d+ column \d+/.test(message)) return message;
  const offset = Number(pos[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

/** Parse and validate the shape of a Consul snapshot. Throws DiscoveryError DSC_ERR_SNAPSHOT naming the array index and field. */
export function parseRegistrations(text: string, origin: string): RegistrationBody[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw snapshotError(origin, `not valid JSON: ${jsonSyntaxMessage(text, err)}`, err);
  }
  if (!Array.isArray(data)) throw snapshotError(origin, `must be a JSON array of catalog registrations (PUT /v1/catalog/register bodies), got ${describe(data)}`);
  try {
    return data.map((v, i) => readBody(v, `[${i}]`));
  } catch (err) {
    if (err instanceof ShapeError) throw snapshotError(origin, err.message);
    throw err;
  }
}
