// `discovery preflight`: checks a cluster against the configuration `discovery serve` would run
// with, before the first migration and after every change of setup. Consul, then Kubernetes,
// then the mesh traps on the world built once from both live sources.

import type { DiscoveryConfig } from '../config/config.ts';
import { errorMessage } from '../platform/errors.ts';
import type { Logger } from '../platform/log.ts';
import { consulToken } from '../wiring/consul-token.ts';
import { kubeConfigFor } from '../wiring/kube-config.ts';
import { consulChecks } from './consul-checks.ts';
import { readIstioFacts } from './istio-facts.ts';
import { rbacChecks, sidecarKindCheck } from './kube-checks.ts';
import { namespacesWithoutServiceCheck, registryOnlyCheck, userSidecarHostsCheck, worldProblemChecks } from './mesh-checks.ts';
import { blocker, report, warn, type CheckResult, type PreflightReport } from './report.ts';
import { worldOnce } from './world-once.ts';

export interface PreflightOptions {
  readonly log: Logger;
  /** How long each live source may take to deliver its first version. */
  readonly timeoutMs: number;
}

export async function runPreflight(config: DiscoveryConfig, env: Readonly<Record<string, string | undefined>>, opts: PreflightOptions): Promise<PreflightReport> {
  const checks: CheckResult[] = [];
  const token = config.consulAddr ? await consulToken(config, env) : null;
  const kc = kubeConfigFor(config, env);

  let consulOk = false;
  if (config.consulAddr) {
    const results = await consulChecks(config, config.consulAddr, token);
    checks.push(...results);
    consulOk = !results.some((c) => c.id === 'consul-reachable' && c.status === 'blocker');
  } else {
    checks.push(blocker('consul-live', 'consul-addr is not set: this configuration does not run live against a Consul agent', 'set consul-addr (DISCOVERY_CONSUL_ADDR) as discovery serve gets it'));
  }

  let kubeOk = false;
  if (kc) {
    const rbac = await rbacChecks(kc, config);
    const crd = await sidecarKindCheck(kc);
    checks.push(...rbac.checks, crd);
    kubeOk = crd.status === 'pass' && rbac.sourceCanRead;
  } else {
    checks.push(blocker('kube-live', 'neither kubeconfig nor kube-in-cluster is set: this configuration does not run live against a Kubernetes API', 'set kubeconfig (DISCOVERY_KUBECONFIG) or kube-in-cluster as discovery serve gets it'));
  }

  if (!consulOk || !kubeOk || !kc || !config.consulAddr) {
    checks.push(warn('mesh-traps', 'skipped: the mesh checks need both upstreams readable (Consul reachable, the Kubernetes kinds listable and watchable, the Sidecar kind served)', 'fix the blockers above and run preflight again'));
    return report(checks);
  }
  try {
    const [world, facts] = await Promise.all([worldOnce(config, { url: config.consulAddr, token }, kc, opts.log, opts.timeoutMs), readIstioFacts(kc, config.istioRootNamespace)]);
    checks.push(registryOnlyCheck(world, facts));
    if (facts.gaps.length > 0) checks.push(warn('mesh-istio-config', `could not read all of Istio's configuration: ${facts.gaps.join('; ')}`, 'grant get on configmaps in the Istio root namespace and list on serviceentries to whoever runs preflight'));
    checks.push(namespacesWithoutServiceCheck(world), ...worldProblemChecks(world), userSidecarHostsCheck(world, config));
  } catch (err) {
    checks.push(warn('mesh-traps', `skipped: the world could not be built from the live sources (${errorMessage(err)})`, 'fix what the message names and run preflight again (--timeout to wait longer)'));
  }
  return report(checks);
}
