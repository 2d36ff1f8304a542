// What agent-services.json holds: the registrations in the shape the agent endpoints render, and
// the schema a file read back must match.

import { compileSchema } from '../../platform/json-schema.ts';
import type { HealthCheck } from '../../world/consul-types.ts';

export interface AgentService {
  readonly ID: string;
  readonly Service: string;
  readonly Tags: readonly string[];
  readonly Address: string;
  readonly Port: number;
  readonly Meta: Readonly<Record<string, string>>;
  readonly Weights: { readonly Passing: number; readonly Warning: number };
  readonly EnableTagOverride: boolean;
  readonly TaggedAddresses?: Readonly<Record<string, { readonly Address: string; readonly Port: number }>>;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/**
 * A check registered on this agent: a catalog HealthCheck without what the catalog derives (node,
 * the service's tags, create index), plus the TTL that drives it.
 */
export interface AgentCheck extends Omit<HealthCheck, 'Node' | 'ServiceTags' | 'CreateIndex'> {
  /** Go duration; only for TTL checks. */
  readonly TTL: string;
}

export interface AgentState {
  readonly services: readonly AgentService[];
  readonly checks: readonly AgentCheck[];
}

const text = { type: 'string' } as const;
const index = { type: 'integer', minimum: 0 } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const stringMap = { type: 'object', additionalProperties: text } as const;

const SCHEMA = {
  type: 'object',
  required: ['services', 'checks'],
  properties: {
    services: {
      type: 'array',
      items: {
        type: 'object',
        required: ['ID', 'Service', 'Tags', 'Address', 'Port', 'Meta', 'Weights', 'EnableTagOverride', 'CreateIndex', 'ModifyIndex'],
        properties: {
          ID: text,
          Service: text,
          Tags: { type: 'array', items: text },
          Address: text,
          Port: port,
          Meta: stringMap,
          Weights: { type: 'object', required: ['Passing', 'Warning'], properties: { Passing: { type: 'integer' }, Warning: { type: 'integer' } } },
          EnableTagOverride: { type: 'boolean' },
          TaggedAddresses: { type: 'object', additionalProperties: { type: 'object', required: ['Address', 'Port'], properties: { Address: text, Port: port } } },
          CreateIndex: index,
          ModifyIndex: index,
        },
      },
    },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['CheckID', 'Name', 'Status', 'ServiceID', 'ServiceName', 'Type', 'TTL', 'ModifyIndex'],
        properties: {
          CheckID: text,
          Name: text,
          Status: { enum: ['passing', 'warning', 'critical'] },
          Notes: text,
          Output: text,
          ServiceID: text,
          ServiceName: text,
          Type: text,
          Interval: text,
          Timeout: text,
          TTL: text,
          ModifyIndex: index,
        },
      },
    },
  },
} as const;

export const validateAgentState: (value: unknown) => AgentState = compileSchema<AgentState>(SCHEMA);
