// Operator commands for the mode: the kill-switch (shared, or this replica's local override),
// hybrid/shadow, and the status of the controls on one replica.

import { adminCall, AdminApiError, type AdminTarget } from './admin-client.ts';
import type { ControlView } from '../admin/control-view.ts';
import { DiscoveryError } from '../platform/errors.ts';
import { parse, target, usage, type Io } from './cli-args.ts';

const LOCAL_HINT =
  'The shared control state was not changed. To act on this replica alone until it can be changed: ' +
  'discovery killswitch on --local --reason TEXT (or off --local) against each replica (--admin-addr); ' +
  'undo with: discovery killswitch clear --local';

/** A change to the shared state; when the shared store cannot take it, the error names the way out. */
export async function sharedChange(t: AdminTarget, method: 'PUT' | 'DELETE', path: string, body: unknown): Promise<ControlView> {
  try {
    return (await adminCall(t, method, path, body)) as ControlView;
  } catch (err) {
    const answer = err instanceof AdminApiError ? err.body : null;
    if (err instanceof AdminApiError && err.status === 503 && typeof answer === 'object' && answer !== null && 'localOverride' in answer) {
      throw new DiscoveryError('DSC_ERR_ADMIN', `${err.message}\n${LOCAL_HINT}`);
    }
    throw err;
  }
}

function killswitchWord(mode: string): string {
  return mode === 'consul-only' ? "ON (every answer is Consul's)" : 'off';
}

/** One line: the kill-switch and mode in force here, where they come from, and the pin count. */
export function modeLine(v: ControlView): string {
  const o = v.localOverride;
  const since = v.modeChangedAt ? ` since ${v.modeChangedAt} by ${v.modeChangedBy ?? '?'}${v.modeReason ? `: ${v.modeReason}` : ''}` : '';
  const source = o
    ? ` — LOCAL OVERRIDE on this replica by ${o.actor} at ${o.at}: ${o.reason} (shared mode ${v.sharedMode}${since}; clear with: discovery killswitch clear --local)`
    : since;
  return `kill-switch ${killswitchWord(v.mode)}; mode ${v.mode}${source}; ${v.pins.length} pin(s)\n`;
}

/** One line on the shared store: reachable, or since when not, and what the replica runs on meanwhile. */
export function backendLine(v: ControlView): string {
  const b = v.backend;
  const from = b.source === 'cache' ? 'its copy of the last value read' : b.source === 'fallback' ? 'the kill-switch (the store was never read since start)' : 'the last value read';
  if (b.reachable) return `control store: ${b.name}: reachable${b.source !== 'store' ? `; running on ${from} until the next read` : ''}\n`;
  return `control store: ${b.name}: UNREACHABLE since ${b.unreachableSince ?? '?'} (${b.lastError ?? 'no error recorded'}); this replica keeps ${from}\n`;
}

export async function killswitch(args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' }, local: { type: 'boolean' } });
  const t = target(values, io.env);
  const sub = positionals[0];
  if (positionals.length > 1) usage(`unexpected argument "${positionals[1]}"`);
  if (sub === 'status') {
    if (values.local) usage('status shows the local override when there is one; drop --local');
    const v = (await adminCall(t, 'GET', '/v1/control')) as ControlView;
    io.out(values.output === 'json' ? `${JSON.stringify(v, null, 2)}\n` : modeLine(v) + backendLine(v));
    return;
  }
  if (sub === 'clear') {
    if (!values.local) usage('discovery killswitch clear applies to the local override only: discovery killswitch clear --local');
    const v = (await adminCall(t, 'DELETE', '/v1/control/local-override', { reason: values.reason ?? '' })) as ControlView;
    io.out(`local override cleared; the shared mode is in force on this replica\n${modeLine(v)}`);
    return;
  }
  if (sub !== 'on' && sub !== 'off') usage('usage: discovery killswitch on --reason TEXT | off [--reason TEXT] | on|off --local --reason TEXT | clear --local | status');
  const mode = sub === 'on' ? 'consul-only' : 'hybrid';
  if (values.local) {
    if (!values.reason) usage(`discovery killswitch ${sub} --local needs --reason TEXT (it is written to the audit trail)`);
    const v = (await adminCall(t, 'PUT', '/v1/control/local-override', { mode, reason: values.reason })) as ControlView;
    io.out(`local override set on this replica only (clear with: discovery killswitch clear --local)\n${modeLine(v)}`);
    return;
  }
  if (sub === 'on' && !values.reason) usage('discovery killswitch on needs --reason TEXT (it is written to the audit trail)');
  io.out(modeLine(await sharedChange(t, 'PUT', '/v1/control/mode', { mode, reason: values.reason ?? '' })));
}

export async function mode(args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' }, local: { type: 'boolean' } });
  const m = positionals[0];
  if ((m !== 'hybrid' && m !== 'shadow') || positionals.length > 1) usage('usage: discovery mode hybrid|shadow [--local] [--reason TEXT]  (the kill-switch is `discovery killswitch on`)');
  const t = target(values, io.env);
  if (values.local) {
    if (!values.reason) usage(`discovery mode ${m} --local needs --reason TEXT (it is written to the audit trail)`);
    const v = (await adminCall(t, 'PUT', '/v1/control/local-override', { mode: m, reason: values.reason })) as ControlView;
    io.out(`local override set on this replica only (clear with: discovery killswitch clear --local)\n${modeLine(v)}`);
    return;
  }
  io.out(modeLine(await sharedChange(t, 'PUT', '/v1/control/mode', { mode: m, reason: values.reason ?? '' })));
}

/** `discovery status`: the controls of one replica in full. */
export async function status(args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, {});
  if (positionals.length > 0) usage('usage: discovery status [-o text|json]');
  const v = (await adminCall(target(values, io.env), 'GET', '/v1/control')) as ControlView;
  if (values.output === 'json') {
    io.out(`${JSON.stringify(v, null, 2)}\n`);
    return;
  }
  const o = v.localOverride;
  const lines = [
    `replica: ${v.replica ?? '(unnamed)'}`,
    `mode in force: ${v.mode} (kill-switch ${killswitchWord(v.mode)})`,
    `local override: ${o ? `${o.mode} by ${o.actor} at ${o.at}: ${o.reason} (clear with: discovery killswitch clear --local)` : 'none'}`,
    `shared mode: ${v.sharedMode}${v.modeChangedAt ? ` since ${v.modeChangedAt} by ${v.modeChangedBy ?? '?'}${v.modeReason ? `: ${v.modeReason}` : ''}` : ''}`,
    `pins: ${v.pins.length === 0 ? 'none' : ''}`,
    ...v.pins.map((p) => `  ${p.caller ? `${p.caller} -> ` : ''}${p.service} by ${p.actor} at ${p.at}: ${p.reason}`),
  ];
  io.out(`${lines.join('\n')}\n${backendLine(v)}`);
}
