// Operator commands: each parses its own flags (node:util parseArgs, strict) and talks to the
// admin API of a running `discovery serve`. The mode commands are in control-commands.ts.

import { stringify } from 'yaml';
import { adminCall } from './admin-client.ts';
import { explainText, type Explanation } from '../lookup/explain.ts';
import type { AuditEntry } from '../control/audit-log.ts';
import { modeLine, sharedChange } from './control-commands.ts';
import { parse, target, usage, type Io } from './cli-args.ts';

export type { Io } from './cli-args.ts';
export { killswitch, mode, status } from './control-commands.ts';

export async function pin(args: string[], io: Io, remove: boolean): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' }, caller: { type: 'string' } });
  const service = positionals[0];
  if (!service || positionals.length > 1) usage(`usage: discovery ${remove ? 'unpin' : 'pin'} SERVICE [--caller NAMESPACE/WORKLOAD]${remove ? '' : ' --reason TEXT'}`);
  if (!remove && !values.reason) usage('discovery pin needs --reason TEXT (it is written to the audit trail)');
  const body = { service, ...(values.caller ? { caller: values.caller } : {}), reason: values.reason ?? '' };
  const s = await sharedChange(target(values, io.env), remove ? 'DELETE' : 'PUT', '/v1/pins', body);
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
    io.out(`${e.at}  ${e.actor}${e.replica ? ` on ${e.replica}` : ''}  ${e.subject === e.action ? e.action : `${e.action} ${e.subject}`} -> ${after}${e.reason ? `  "${e.reason}"` : ''}\n`);
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
