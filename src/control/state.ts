// Operator controls: the global mode (hybrid, shadow, consul-only = kill-switch) and pins that force
// a target (or one caller workload's view of a target) back to Consul's answer. This file holds
// the state, its naming rules, and the document every backend stores it as.

import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import { compileSchema } from '../platform/json-schema.ts';

export interface Pin {
  /** Lower-cased Consul service name. */
  readonly service: string;
  /** Caller workload `namespace/name`; absent: every caller. */
  readonly caller?: string;
  readonly reason: string;
  readonly actor: string;
  readonly at: string;
}

export interface ControlState {
  readonly mode: Mode;
  readonly modeReason: string;
  readonly modeChangedAt: string | null;
  readonly modeChangedBy: string | null;
  readonly pins: readonly Pin[];
}

/** A stored state and the version it was stored under; save-if-version compares the version. */
export interface VersionedState {
  readonly state: ControlState;
  readonly version: number;
}

/** Who asks for a change, and why (both go to the audit trail). */
export interface Actor {
  readonly actor: string;
  readonly reason: string;
}

/** What nothing stored means: hybrid, no pins. */
export const INITIAL_CONTROL_STATE: ControlState = { mode: 'hybrid', modeReason: '', modeChangedAt: null, modeChangedBy: null, pins: [] };

/** A Consul service name. */
export const SERVICE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
/** A caller workload, `namespace/name`. */
export const WORKLOAD_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** The key of a pin among all pins: the service alone, or the caller and the service. */
export function pinKey(service: string, caller?: string): string {
  return caller ? `${caller}|${service}` : service;
}

/** The stored document: the state plus `version` (absent in files written before it existed: version 0). */
export const CONTROL_DOCUMENT_SCHEMA = {
  type: 'object',
  required: ['mode', 'pins'],
  properties: {
    version: { type: 'integer', minimum: 0 },
    mode: { enum: [...MODES] },
    modeReason: { type: 'string' },
    modeChangedAt: { type: ['string', 'null'] },
    modeChangedBy: { type: ['string', 'null'] },
    pins: {
      type: 'array',
      items: {
        type: 'object',
        required: ['service', 'reason', 'actor', 'at'],
        properties: {
          service: { type: 'string', pattern: SERVICE_NAME_RE.source },
          caller: { type: 'string', pattern: WORKLOAD_RE.source },
          reason: { type: 'string' },
          actor: { type: 'string' },
          at: { type: 'string' },
        },
      },
    },
  },
} as const;

interface ControlDocument {
  version?: number;
  mode: Mode;
  modeReason?: string;
  modeChangedAt?: string | null;
  modeChangedBy?: string | null;
  pins: Pin[];
}

const checkDocument = compileSchema<ControlDocument>(CONTROL_DOCUMENT_SCHEMA, { name: 'control state' });

/** Validates a parsed document; throws an Error naming the first bad field. Unknown fields are dropped. */
export function parseControlDocument(raw: unknown): VersionedState {
  const doc = checkDocument(raw);
  return {
    version: doc.version ?? 0,
    state: {
      mode: doc.mode,
      modeReason: doc.modeReason ?? '',
      modeChangedAt: doc.modeChangedAt ?? null,
      modeChangedBy: doc.modeChangedBy ?? null,
      pins: doc.pins.map((p) => ({ service: p.service, ...(p.caller !== undefined ? { caller: p.caller } : {}), reason: p.reason, actor: p.actor, at: p.at })),
    },
  };
}

/** The document as stored: pretty JSON with a trailing newline, so an operator can read and diff it. */
export function formatControlDocument({ state, version }: VersionedState): string {
  const doc: ControlDocument = { version, ...state, pins: [...state.pins] };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
