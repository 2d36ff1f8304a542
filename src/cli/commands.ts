// Operator commands: each parses its own flags (node:util parseArgs, strict) and talks to the
// admin API of a running `discovery serve`.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { stringify } from 'yaml';
import { adminCall, type AdminTarget } from './admin-client.ts';
import { explainText, type Explanation } from '../lookup/explain.ts';
import type { AuditEntry } from '../control/audit-log.ts';
import type { ControlState } from '../control/state.ts';
import { DiscoveryError } from '../platform/errors.ts';

export interface Io {
  out(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

const COMMON = { 'admin-addr': { type: 'string' }, output: { type: 'string', short: 'o' } } as const;

function target(values: { 'admin-addr'?: string | undefined }, env: Io['env']): AdminTarget {
  return { addr: values['admin-addr'] ?? env['DISCOVERY_ADMIN_ADDR'] ?? '127.0.0.1:8580', token: env['DISCOVERY_ADMIN_TOKEN'] || null };
}

function usage(msg: string): never {
  throw new DiscoveryError('DSC_ERR_BAD_REQUEST', msg);
}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Options>(args: string[], options: O) {
  const config = { args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true } as const;
  try {
    return parseArgs(config);
  } catch (err) {
    return usage((err as Error).message);
  }
}

function modeLine(s: ControlState): string {
  const kill = s.mode === 'consul-only';
  const since = s.modeChangedAt ? ` since ${s.modeChangedAt} by ${s.modeChangedBy ?? '?'}${s.modeReason ? `: ${s.modeReason}` : ''}` : '';
  return `kill-switch ${kill ? 'ON (every answer is Consul\'s)' : 'off'}; mode ${s.mode}${since}; ${s.pins.length} pin(s)\n`;
}

export async function killswitch(args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' } });
  const t = target(values, io.env);
  const sub = positionals[0];
  if (sub === 'status') {
    const s = (await adminCall(t, 'GET', '/v1/control')) as ControlState;
    io.out(values.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : modeLine(s));
    return;
  }
  if (sub !== 'on' && sub !== 'off') usage('usage: discovery killswitch on --reason TEXT | off [--reason TEXT] | status');
  if (sub === 'on' && !values.reason) usage('discovery killswitch on needs --reason TEXT (it is written to the audit trail)');
  const s = (await adminCall(t, 'PUT', '/v1/control/mode', { mode: sub === 'on' ? 'consul-only' : 'hybrid', reason: values.reason ?? '' })) as ControlState;
  io.out(modeLine(s));
}

export async function mode(args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' } });
  const m = positionals[0];
  if (m !== 'hybrid' && m !== 'shadow') usage('usage: discovery mode hybrid|shadow [--reason TEXT]  (the kill-switch is `discovery killswitch on`)');
  const s = (await adminCall(target(values, io.env), 'PUT', '/v1/control/mode', { mode: m, reason: values.reason ?? '' })) as ControlState;
  io.out(modeLine(s));
}

export async function pin(args: string[], io: Io, remove: boolean): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' }, caller: { type: 'string' } });
  const service = positionals[0];
  if (!service || positionals.length > 1) usage(`usage: discovery ${remove ? 'unpin' : 'pin'} SERVICE [--caller NAMESPACE/WORKLOAD]${remove ? '' : ' --reason TEXT'}`);
  if (!remove && !values.reason) usage('discovery pin needs --reason TEXT (it is written to the audit trail)');
  const body = { service, ...(values.caller ? { caller: values.caller } : {}), reason: values.reason ?? '' };
  const s = (await adminCall(target(values, io.env), remove ? 'DELETE' : 'PUT', '/v1/pins', body)) as ControlState;
  io.out(`${remove ? 'unpinned' : 'pinned to HAProxy'}: ${values.caller ? `${values.caller} -> ` : ''}${service}\n${modeLine(s)}`);
}

export async function explainCmd(args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, { from: { type: 'string' } });
  const service = positionals[0];
  if (!service || !values.from) usage('usage: discovery explain SERVICE --from CALLER_IP [-o text|json]');
  const q = new URLSearchParams({ service, from: values.from });
  const e = (await adminCall(target(values, io.env), 'GET', `/v1/explain?${q.toString()}`)) as Explanation;
  io.out(values.output === 'json' ? `${JSON.stringify(e, null, 2)}\n` : explainText(e));
}

export async function audit(args: string[], io: Io): Promise<void> {
  const { values } = parse(args, { limit: { type: 'string' } });
  if (values.limit !== undefined && !/^\d{1,6}$/.test(values.limit)) usage('--limit must be a number');
  const entries = (await adminCall(target(values, io.env), 'GET', `/v1/audit?limit=${values.limit ?? '100'}`)) as AuditEntry[];
  if (values.output === 'json') {
    io.out(`${JSON.stringify(entries, null, 2)}\n`);
    return;
  }
  if (entries.length === 0) io.out('no changes recorded\n');
  for (const e of entries) {
    const after = typeof e.after === 'string' ? e.after : e.after === null ? '-' : 'set';
    io.out(`${e.at}  ${e.actor}  ${e.action} ${e.subject} -> ${after}${e.reason ? `  "${e.reason}"` : ''}\n`);
  }
}

export async function sidecars(args: string[], io: Io): Promise<void> {
  const { values } = parse(args, { namespace: { type: 'string', short: 'n' } });
  const q = values.namespace ? `?namespace=${encodeURIComponent(values.namespace)}` : '';
  const r = (await adminCall(target(values, io.env), 'GET', `/v1/sidecars${q}`)) as { enabled: boolean; items: object[] };
  const list = { apiVersion: 'v1', kind: 'List', items: r.items, metadata: { resourceVersion: '' } };
  if (values.output === 'json') io.out(`${JSON.stringify(list, null, 2)}\n`);
  else if (values.output === undefined || values.output === 'yaml') io.out(stringify(list));
  else usage('-o must be yaml or json');
}
