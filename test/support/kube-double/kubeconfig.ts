// Client configuration for the double: a client-node KubeConfig, and a kubeconfig file for kubectl
// and for anything that loads one (client-node's loadFromFile).

import { writeFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';

const NAME = 'kube-double';

export function kubeConfigFor(url: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: NAME, server: url, skipTLSVerify: true }],
    users: [{ name: NAME, token }],
    contexts: [{ name: NAME, cluster: NAME, user: NAME, namespace: 'default' }],
    currentContext: NAME,
  });
  return kc;
}

/** The kubeconfig file text (JSON, which every YAML loader reads). */
export function kubeconfigText(url: string, token: string): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: NAME, cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: NAME, user: { token } }],
    contexts: [{ name: NAME, context: { cluster: NAME, user: NAME, namespace: 'default' } }],
    'current-context': NAME,
    preferences: {},
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export async function writeKubeconfigFile(path: string, url: string, token: string): Promise<void> {
  await writeFile(path, kubeconfigText(url, token), { mode: 0o600 });
}
