// What every operator command shares: its output, where the admin API is, and strict flag parsing.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AdminTarget } from './admin-client.ts';
import { DiscoveryError } from '../platform/errors.ts';

export interface Io {
  out(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

const COMMON = { 'admin-addr': { type: 'string' }, output: { type: 'string', short: 'o' } } as const;

export function target(values: { 'admin-addr'?: string | undefined }, env: Io['env']): AdminTarget {
  return { addr: values['admin-addr'] ?? env['DISCOVERY_ADMIN_ADDR'] ?? '127.0.0.1:8580', token: env['DISCOVERY_ADMIN_TOKEN'] || null };
}

export function usage(msg: string): never {
  throw new DiscoveryError('DSC_ERR_BAD_REQUEST', msg);
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(args: string[], options: O) {
  const config = { args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true } as const;
  try {
    return parseArgs(config);
  } catch (err) {
    return usage((err as Error).message);
  }
}
