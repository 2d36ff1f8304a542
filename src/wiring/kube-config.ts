// The Kubernetes connection of live mode, only ever from what the configuration names: a kubeconfig
// file or the Pod's service account. Never KUBECONFIG or ~/.kube: a demo must not reach a real
// cluster because the operator's shell happens to point at one.

import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { DiscoveryConfig } from '../config/config.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';

/** Where a Pod finds its service-account token. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** null when the Kubernetes part is not live (a snapshot, or nothing). */
export function kubeConfigFor(config: DiscoveryConfig, env: Readonly<Record<string, string | undefined>>): KubeConfig | null {
  if (config.kubeconfig) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(config.kubeconfig);
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_CONFIG', `kubeconfig ${config.kubeconfig}: ${errorMessage(err)}`, { cause: err });
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new DiscoveryError('DSC_ERR_CONFIG', `kubeconfig ${config.kubeconfig}: its current context "${kc.getCurrentContext()}" names no cluster`);
    return kc;
  }
  if (config.kubeInCluster) {
    if (!env['KUBERNETES_SERVICE_HOST'] || !env['KUBERNETES_SERVICE_PORT']) {
      throw new DiscoveryError('DSC_ERR_CONFIG', 'kube-in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: this process does not run in a Kubernetes Pod (use kubeconfig instead)');
    }
    if (!existsSync(SERVICE_ACCOUNT_TOKEN)) {
      throw new DiscoveryError('DSC_ERR_CONFIG', `kube-in-cluster: no service-account token at ${SERVICE_ACCOUNT_TOKEN} (automountServiceAccountToken is off?)`);
    }
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  return null;
}

/** `https://host:port` of the cluster, for logs (no credentials). */
export function kubeServer(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '?';
}
