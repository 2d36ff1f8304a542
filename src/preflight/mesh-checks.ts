// The mesh setup traps that broke real migrations, judged on the world live mode builds plus the
// Istio facts it does not keep:
// - meshed workloads under outboundTrafficPolicy REGISTRY_ONLY reach only addresses in Istio's
//   registry, so HAProxy (the answer for every non-migrated target, and the whole rollback) fails
//   for them unless a ServiceEntry covers the HAProxy addresses;
// - namespaces with injected Pods but no Service;
// - Consul services claimed by several Kubernetes Services, or whose port is ambiguous (the
//   world's own problems);
// - user Sidecars that lack `istio-system/*` or another configured default host.

import { BlockList, isIP } from 'node:net';
import type { DiscoveryConfig } from '../config/config.ts';
import { parseEgressHost } from '../world/istio-hosts.ts';
import type { World } from '../world/world.ts';
import type { IstioFacts } from './istio-facts.ts';
import { blocker, pass, some, warn, type CheckResult } from './report.ts';

/** Every address Consul answers for a service: the service address, else its node's. */
function haproxyAddresses(world: World): string[] {
  const out = new Set<string>();
  for (const svc of world.consul.services.values()) {
    for (const i of svc.instances) {
      const address = i.service.Address || i.node.Address;
      if (isIP(address)) out.add(address);
    }
  }
  return [...out].sort();
}

function registryCovering(facts: IstioFacts): BlockList {
  const list = new BlockList();
  for (const entry of facts.serviceEntries) {
    for (const a of entry.addresses) {
      const [ip, bits] = a.split('/');
      const family = isIP(ip ?? '');
      if (family === 0) continue;
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(ip!, type);
      else if (/^\d+$/.test(bits)) list.addSubnet(ip!, Number(bits), type);
    }
  }
  return list;
}

export function registryOnlyCheck(world: World, facts: IstioFacts): CheckResult {
  const id = 'mesh-registry-only';
  const strict = new Set<string>();
  for (const caller of world.callers.values()) {
    if (!caller.pod.meshed) continue;
    const applied = caller.sidecar.kind === 'none' ? undefined : facts.sidecarModes.get(`${caller.sidecar.info.namespace}/${caller.sidecar.info.name}`);
    if ((applied ?? facts.meshMode) === 'REGISTRY_ONLY') strict.add(caller.workload);
  }
  if (strict.size === 0) return pass(id, `no meshed workload runs with outboundTrafficPolicy REGISTRY_ONLY (mesh-wide ${facts.meshMode}, from ${facts.meshModeSource})`);
  const covered = registryCovering(facts);
  const uncovered = haproxyAddresses(world).filter((a) => !covered.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
  const workloads = some([...strict].sort());
  if (uncovered.length === 0) return pass(id, `${strict.size} meshed workload(s) run REGISTRY_ONLY (${workloads}); ServiceEntries cover every HAProxy address`);
  if (!facts.serviceEntriesRead) {
    return warn(id, `${strict.size} meshed workload(s) run with outboundTrafficPolicy REGISTRY_ONLY (${workloads}) and the ServiceEntries could not be read to see whether they cover the HAProxy addresses`, 'run preflight with credentials that may list serviceentries.networking.istio.io (--kubeconfig), or check by hand that a ServiceEntry covers the HAProxy addresses');
  }
  return blocker(
    id,
    `${strict.size} meshed workload(s) run with outboundTrafficPolicy REGISTRY_ONLY (${workloads}) and no ServiceEntry covers HAProxy address(es) ${some(uncovered)}: they cannot reach non-migrated services, and a rollback would cut them off`,
    'add a ServiceEntry (resolution NONE or STATIC, addresses: the HAProxy IPs or their CIDR, the HAProxy ports) visible to those namespaces, or exclude the HAProxy CIDR from capture (traffic.sidecar.istio.io/excludeOutboundIPRanges)',
  );
}

export function namespacesWithoutServiceCheck(world: World): CheckResult {
  const id = 'mesh-namespace-without-service';
  const withService = new Set(world.kube.services.map((s) => s.namespace));
  const injected = new Set(world.kube.pods.filter((p) => p.meshed).map((p) => p.namespace));
  const lacking = [...injected].filter((ns) => !withService.has(ns)).sort();
  if (lacking.length === 0) return pass(id, 'every namespace with injected Pods has a Service');
  return warn(
    id,
    `namespace(s) ${some(lacking)} have injected Pods but no Service: they miss the mesh-wide default Sidecar, so their proxies get the whole mesh's configuration and can run out of memory`,
    'give each a namespace-wide Sidecar (egress hosts "./*" and "istio-system/*"), or stop injecting Pods there that serve nothing',
  );
}

export function worldProblemChecks(world: World): CheckResult[] {
  const shown = world.problems.filter((p) => p.kind === 'mapping-ambiguous' || p.kind === 'port-ambiguous');
  if (shown.length === 0) return [pass('world-mapping', `each of ${world.consul.services.size} Consul service(s) maps to at most one Kubernetes Service, on a clear port`)];
  return shown.map((p) =>
    warn(
      `world-${p.kind}`,
      `${p.subject}: ${p.detail} (Discovery answers HAProxy for it: safe, but it never moves to the mesh)`,
      p.kind === 'mapping-ambiguous'
        ? 'keep one Service per Consul name: change the others\' consul.hashicorp.com/service-name annotation (or their name)'
        : 'give the Service a port with the Consul port\'s number, or one named like the Consul service',
    ),
  );
}

/** Whether the egress host `host` of a Sidecar in namespace `own` includes the host `wanted`. */
function covers(host: string, wanted: string, own: string): boolean {
  const h = parseEgressHost(host);
  const w = parseEgressHost(wanted);
  if (!h || !w) return host === wanted;
  const nsOk = h.namespace === '*' || h.namespace === w.namespace || (h.namespace === '.' && own === w.namespace);
  const nameOk = h.dnsName === '*' || h.dnsName === w.dnsName || (h.dnsName.startsWith('*.') && w.dnsName.endsWith(h.dnsName.slice(1)));
  return nsOk && nameOk;
}

export function userSidecarHostsCheck(world: World, config: DiscoveryConfig): CheckResult {
  const id = 'mesh-user-sidecar-default-hosts';
  const wanted = config.sidecars.defaultHosts;
  const lacking: string[] = [];
  for (const s of world.kube.sidecars) {
    if (s.managed || s.egressHosts.length === 0) continue;
    const missing = wanted.filter((w) => !s.egressHosts.some((h) => covers(h, w, s.namespace)));
    if (missing.length > 0) lacking.push(`${s.namespace}/${s.name} (lacks ${missing.join(', ')})`);
  }
  const users = world.kube.sidecars.filter((s) => !s.managed).length;
  if (lacking.length === 0) return pass(id, `${users} user Sidecar(s); every one lists ${wanted.join(', ') || 'the default hosts'}`);
  return warn(
    id,
    `user Sidecar(s) ${some(lacking)} miss default host(s): their workloads cannot reach what those hosts name (istio-system/*: the control plane and gateways)`,
    'add the missing hosts to those Sidecars\' egress (Discovery never edits a user\'s Sidecar)',
  );
}
