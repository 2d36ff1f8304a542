// The element types `?filter` selectors are checked against, per endpoint (the fields Consul's
// filter accepts for structs.ServiceNode, CheckServiceNode, Node, HealthCheck and AgentService).

export type Schema =
  | 'scalar'
  | 'list-of-scalars'
  /** map[string]string: any key is a valid next segment. */
  | 'map'
  | { readonly mapOf: Schema }
  | { readonly listOf: Schema }
  | { readonly fields: Readonly<Record<string, Schema>> };

const fields = (names: readonly string[], extra: Readonly<Record<string, Schema>> = {}): Schema => ({
  fields: { ...Object.fromEntries(names.map((n): [string, Schema] => [n, 'scalar'])), ...extra },
});

const WEIGHTS = fields(['Passing', 'Warning']);
const SERVICE_ADDRESS = fields(['Address', 'Port']);

export const NODE_SCHEMA = fields(['ID', 'Node', 'Address', 'Datacenter'], { TaggedAddresses: 'map', Meta: 'map' });

export const NODE_SERVICE_SCHEMA = fields(['Kind', 'ID', 'Service', 'Address', 'Port', 'EnableTagOverride', 'PeerName'], {
  Tags: 'list-of-scalars',
  Meta: 'map',
  TaggedAddresses: { mapOf: SERVICE_ADDRESS },
  Weights: WEIGHTS,
});

export const HEALTH_CHECK_SCHEMA = fields(['Node', 'CheckID', 'Name', 'Status', 'Notes', 'Output', 'ServiceID', 'ServiceName', 'Type', 'Interval', 'Timeout'], {
  ServiceTags: 'list-of-scalars',
});

export const SERVICE_NODE_SCHEMA = fields(
  ['ID', 'Node', 'Address', 'Datacenter', 'ServiceKind', 'ServiceID', 'ServiceName', 'ServiceAddress', 'ServicePort', 'ServiceSocketPath', 'ServiceEnableTagOverride'],
  {
    TaggedAddresses: 'map',
    NodeMeta: 'map',
    ServiceTags: 'list-of-scalars',
    ServiceTaggedAddresses: { mapOf: SERVICE_ADDRESS },
    ServiceWeights: WEIGHTS,
    ServiceMeta: 'map',
  },
);

export const CHECK_SERVICE_NODE_SCHEMA: Schema = {
  fields: { Node: NODE_SCHEMA, Service: NODE_SERVICE_SCHEMA, Checks: { listOf: HEALTH_CHECK_SCHEMA } },
};

export const AGENT_SERVICE_SCHEMA = fields(['Kind', 'ID', 'Service', 'Port', 'Address', 'EnableTagOverride', 'Datacenter'], {
  Tags: 'list-of-scalars',
  Meta: 'map',
  TaggedAddresses: { mapOf: SERVICE_ADDRESS },
  Weights: WEIGHTS,
});

/** null when `path` names something of `schema`, else go-bexpr's complaint. */
export function validateSelector(schema: Schema, path: readonly string[]): string | null {
  let s: Schema = schema;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    const invalid = `Selector "${path.slice(0, i + 1).join('.')}" is not valid`;
    if (typeof s === 'string') {
      if (s !== 'map') return invalid;
      s = 'scalar';
    } else if ('mapOf' in s) {
      s = s.mapOf;
    } else if ('listOf' in s) {
      s = s.listOf;
      i--; // the list is crossed; the same segment applies to its elements
    } else {
      const next: Schema | undefined = s.fields[part];
      if (next === undefined) return invalid;
      s = next;
    }
  }
  return null;
}
