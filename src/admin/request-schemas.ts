// The admin API's request bodies and query strings as JSON Schemas, checked by fastify before a
// handler runs. A request that breaks a rule is a 400 whose `error` names the field and the rule.

import type { FastifySchemaCompiler } from 'fastify';
import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import { compileSchema } from '../platform/json-schema.ts';

/** Free text from an operator: at most 1000 characters. */
const TEXT = { type: 'string', maxLength: 1000 } as const;
/** Free text that must be given. */
const REQUIRED_TEXT = { type: 'string', minLength: 1, maxLength: 1000 } as const;
/** Free text that may be left out; null and "" count as left out. */
const OPTIONAL_TEXT = { type: ['string', 'null'], maxLength: 1000 } as const;

export interface ModeBody {
  mode: Mode;
  reason?: string | null;
}

/** The kill-switch (consul-only) needs a reason; the other modes do not. */
export const MODE_BODY = {
  type: 'object',
  required: ['mode'],
  properties: { mode: { enum: [...MODES] }, reason: OPTIONAL_TEXT },
  if: { type: 'object', required: ['mode'], properties: { mode: { const: 'consul-only' } } },
  then: { type: 'object', required: ['reason'], properties: { reason: REQUIRED_TEXT } },
} as const;

export interface LocalOverrideBody {
  mode: Mode;
  reason: string;
}

/** A local override always says why: it makes one replica differ from the others. */
export const LOCAL_OVERRIDE_BODY = {
  type: 'object',
  required: ['mode', 'reason'],
  properties: { mode: { enum: [...MODES] }, reason: REQUIRED_TEXT },
} as const;

export interface ClearOverrideBody {
  reason?: string | null;
}

export const CLEAR_OVERRIDE_BODY = {
  type: 'object',
  properties: { reason: OPTIONAL_TEXT },
} as const;

export interface PinBody {
  service: string;
  caller?: string | null;
  reason: string;
}

export const PIN_BODY = {
  type: 'object',
  required: ['service', 'reason'],
  properties: { service: REQUIRED_TEXT, caller: OPTIONAL_TEXT, reason: REQUIRED_TEXT },
} as const;

export interface UnpinBody {
  service: string;
  caller?: string | null;
  reason?: string | null;
}

export const UNPIN_BODY = {
  type: 'object',
  required: ['service'],
  properties: { service: REQUIRED_TEXT, caller: OPTIONAL_TEXT, reason: OPTIONAL_TEXT },
} as const;

export interface ExplainQuery {
  service: string;
  /** The caller's IP. */
  from: string;
}

export const EXPLAIN_QUERY = {
  type: 'object',
  required: ['service', 'from'],
  properties: { service: REQUIRED_TEXT, from: REQUIRED_TEXT },
} as const;

export interface AuditQuery {
  limit?: number;
}

export const AUDIT_QUERY = {
  type: 'object',
  properties: { limit: { type: 'integer', minimum: 1, maximum: 999_999 } },
} as const;

export interface SidecarsQuery {
  namespace?: string;
}

export const SIDECARS_QUERY = {
  type: 'object',
  properties: { namespace: TEXT },
} as const;

/**
 * Checks one part of a request against its schema with platform/json-schema.ts. Query strings
 * carry only text, so their numbers are converted ("5" to 5); a JSON body must already hold the
 * declared types.
 */
export const validateRequestPart: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const isQuery = httpPart === 'querystring';
  const check = compileSchema(schema, { name: isQuery ? 'query string' : (httpPart ?? 'request'), coerceTypes: isQuery });
  return (data: unknown) => {
    try {
      return { value: check(data) };
    } catch (err) {
      return { error: err as Error };
    }
  };
};
