// One GET against the Kubernetes API with the kubeconfig's credentials, answered as status and
// parsed JSON body (null when the body is not JSON), within a time limit.

import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { startGet } from '../sources/kube-live/kube-http.ts';

export interface KubeAnswer {
  readonly status: number;
  readonly body: unknown;
}

export async function kubeGet(kc: KubeConfig, path: string, timeoutMs = 10_000): Promise<KubeAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  const request = await startGet(kc, path, {}, signal);
  if (!request) throw new Error(`GET ${path}: no answer within ${timeoutMs} ms`);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return { status: res.statusCode ?? 0, body };
}

/** The `message` of a Status body, else the HTTP status. */
export function kubeMessage(a: KubeAnswer): string {
  const message = (a.body as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message !== '' ? `HTTP ${a.status}: ${message}` : `HTTP ${a.status}`;
}
