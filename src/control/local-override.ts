// One replica's own mode, set by an operator through that replica's admin API when the shared
// control state cannot be changed (the shared store is down, or keeps changing). It wins over the
// shared mode on this replica only, until it is cleared, and survives restarts in the state dir
// (`control-override.json`). Pins stay shared. See docs/adr/0010-control-in-consul-kv.md.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mode } from '../decision/decide.ts';
import { MODES } from '../decision/decide.ts';
import { readFileIfExists, writeFileAtomic } from '../platform/atomic-file.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';
import { compileSchema } from '../platform/json-schema.ts';

export interface LocalOverride {
  readonly mode: Mode;
  readonly reason: string;
  readonly actor: string;
  readonly at: string;
}

const OVERRIDE_SCHEMA = {
  type: 'object',
  required: ['mode', 'reason', 'actor', 'at'],
  properties: {
    mode: { enum: [...MODES] },
    reason: { type: 'string' },
    actor: { type: 'string' },
    at: { type: 'string' },
  },
} as const;

const checkOverride = compileSchema<LocalOverride>(OVERRIDE_SCHEMA, { name: 'local override' });

/** Where a replica keeps its local override. */
export interface LocalOverrideStore {
  /** For messages. */
  readonly name: string;
  /** The override in force, or null. One that does not validate is an error, never silently dropped. */
  load(): Promise<LocalOverride | null>;
  /** Stores the override, or removes it (null). */
  save(override: LocalOverride | null): Promise<void>;
}

export class LocalOverrideFile implements LocalOverrideStore {
  readonly name: string;

  constructor(stateDir: string, fileName = 'control-override.json') {
    this.name = join(stateDir, fileName);
  }

  async load(): Promise<LocalOverride | null> {
    let text: string | null;
    try {
      text = await readFileIfExists(this.name);
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_STATE', `cannot read the local override ${this.name}: ${errorMessage(err)}`);
    }
    if (text === null) return null;
    try {
      const o = checkOverride(JSON.parse(text));
      return { mode: o.mode, reason: o.reason, actor: o.actor, at: o.at };
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_STATE', `local override file ${this.name} is invalid: ${errorMessage(err)}; fix or remove it`);
    }
  }

  async save(override: LocalOverride | null): Promise<void> {
    try {
      if (override === null) await rm(this.name, { force: true });
      else await writeFileAtomic(this.name, `${JSON.stringify(override, null, 2)}\n`);
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_STATE', `cannot ${override === null ? 'remove' : 'write'} the local override ${this.name}: ${errorMessage(err)}`);
    }
  }
}
