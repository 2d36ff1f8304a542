// `discovery explain SERVICE --from IP`: the answer a caller would get and every fact behind it.

import type { ControlStore } from '../control/control-store.ts';
import { aggregateStatus } from '../world/consul-types.ts';
import type { WorldStore } from '../world/store.ts';
import type { Lookups } from './lookup.ts';
import type { SidecarGate } from '../gate/gate.ts';

export interface Explanation {
  readonly service: string;
  readonly from: string;
  readonly mode: string;
  /** Set when this replica's local override decides the mode instead of the shared state. */
  readonly localOverride?: { mode: string; sharedMode: string; reason: string; actor: string; at: string };
  readonly route: string;
  readonly reason: string;
  readonly hybrid?: { route: string; reason: string };
  readonly index: number;
  readonly answer: Array<{ node: string; address: string; port: number; status: string }>;
  readonly caller: Record<string, unknown> | null;
  readonly consul: { known: boolean; instances: number; passing: number; warning: number; critical: number };
  readonly kubernetes: Record<string, unknown> | null;
  readonly pin: Record<string, unknown> | null;
  readonly sidecar: Record<string, unknown> | null;
  readonly problems: string[];
}

export function explain(
  deps: { lookups: Lookups; world: WorldStore; control: ControlStore; gate: SidecarGate },
  service: string,
  from: string,
): Explanation {
  const r = deps.lookups.evaluate(from, service);
  const counts = { passing: 0, warning: 0, critical: 0 };
  for (const i of r.service?.instances ?? []) counts[aggregateStatus(i.checks)]++;
  const pin = deps.control.pinFor(r.key, r.caller?.workload ?? null);
  const problems = deps.world.current.problems
    .filter((p) => p.subject.toLowerCase() === r.key || p.subject === r.caller?.ip)
    .map((p) => `${p.kind}: ${p.detail}`);
  const t = r.target;
  return {
    service: r.key,
    from,
    mode: deps.control.mode,
    ...(deps.control.localOverride ? { localOverride: { ...deps.control.localOverride, sharedMode: deps.control.state.mode } } : {}),
    route: r.decision.route,
    reason: r.decision.reason,
    ...(r.decision.hybrid ? { hybrid: { ...r.decision.hybrid } } : {}),
    index: r.index,
    answer: r.instances.map((i) => ({
      node: i.node.Node,
      address: i.service.Address || i.node.Address,
      port: i.service.Port,
      status: aggregateStatus(i.checks),
    })),
    caller: r.caller
      ? {
          ip: r.caller.ip,
          pod: `${r.caller.pod.namespace}/${r.caller.pod.name}`,
          workload: r.caller.workload,
          workloadKind: r.caller.pod.workload.kind,
          meshed: r.caller.pod.meshed,
          sidecarScope: r.caller.sidecar.kind === 'none' ? 'none' : `${r.caller.sidecar.kind}: ${r.caller.sidecar.info.namespace}/${r.caller.sidecar.info.name}`,
        }
      : null,
    consul: { known: r.service !== undefined, instances: r.service?.instances.length ?? 0, ...counts },
    kubernetes: t
      ? {
          status: t.status,
          detail: t.detail,
          services: t.kubeServices,
          ...(t.clusterIP ? { clusterIP: t.clusterIP } : {}),
          ...(t.port ? { port: t.port, portName: t.portName } : {}),
          ...(t.fqdn ? { host: t.fqdn } : {}),
          readyEndpoints: t.readyEndpoints,
          meshedReadyEndpoints: t.meshedReadyEndpoints,
        }
      : null,
    pin: pin ? { ...pin } : null,
    sidecar: r.caller ? deps.gate.describe(r.caller, r.key) : null,
    problems,
  };
}

/** Facts are JSON values: print scalars as they are and objects as JSON. */
function s(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
}

export function explainText(e: Explanation): string {
  const lines = [
    `${e.service} asked from ${e.from}: ${e.route === 'mesh' ? 'ClusterIP (mesh)' : 'HAProxy (Consul)'} — reason ${e.reason}`,
    ...(e.hybrid ? [`  shadow: hybrid mode would answer ${e.hybrid.route} (${e.hybrid.reason})`] : []),
    `  mode: ${e.mode}   X-Consul-Index: ${e.index}`,
    ...(e.localOverride ? [`  local override: ${e.localOverride.mode} on this replica by ${e.localOverride.actor} at ${e.localOverride.at}: ${e.localOverride.reason} (shared mode ${e.localOverride.sharedMode})`] : []),
    `  answer:`,
    ...(e.answer.length ? e.answer.map((a) => `    ${a.address}:${a.port}  node ${a.node}  ${a.status}`) : ['    (none)']),
    `  caller: ${e.caller ? `${s(e.caller['pod'])} workload ${s(e.caller['workload'])}, ${e.caller['meshed'] ? 'meshed' : 'not meshed'}, Sidecar ${s(e.caller['sidecarScope'])}` : 'unknown (no Pod has this IP)'}`,
    `  consul: ${e.consul.known ? `${e.consul.instances} instances (${e.consul.passing} passing, ${e.consul.warning} warning, ${e.consul.critical} critical)` : 'service not registered'}`,
    `  kubernetes: ${e.kubernetes ? `${s(e.kubernetes['status'])} — ${s(e.kubernetes['detail'])}${e.kubernetes['clusterIP'] ? ` (ClusterIP ${s(e.kubernetes['clusterIP'])}${e.kubernetes['port'] ? `:${s(e.kubernetes['port'])}` : ''})` : ''}` : 'n/a'}`,
    `  pin: ${e.pin ? `${s(e.pin['caller'] ?? 'all callers')} pinned to HAProxy by ${s(e.pin['actor'])} at ${s(e.pin['at'])}: ${s(e.pin['reason'])}` : 'none'}`,
    `  sidecar: ${e.sidecar ? Object.entries(e.sidecar).map(([k, v]) => `${k}=${s(v)}`).join(' ') : 'n/a'}`,
    ...e.problems.map((p) => `  problem: ${p}`),
  ];
  return `${lines.join('\n')}\n`;
}
