// One page of a Kubernetes LIST (GET <path>?limit=N&continue=…), read as plain JSON: the same
// shape WATCH events have (timestamps as strings), and about a quarter of the CPU of client-node's
// typed clients, whose model deserializer dominated a 20,000-Pod sync.

import { isObject } from '../shape.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeRequestError, errorFromResponse, startGet } from './kube-http.ts';

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** Set when the server has more pages. */
  readonly continueToken: string | undefined;
}

export async function readListPage(kc: KubeConfig, path: string, limit: number, continueToken: string | undefined, signal: AbortSignal): Promise<ListPage> {
  const what = `LIST ${path}`;
  const params: Record<string, string> = { limit: String(limit) };
  if (continueToken !== undefined) params['continue'] = continueToken;
  const request = await startGet(kc, path, params, signal);
  if (!request) throw new KubeRequestError(`${what}: aborted`);
  const body = await new Promise<string>((resolve, reject) => {
    request.on('error', (err) => reject(new KubeRequestError(`${what}: ${err.message}`, undefined, { cause: err })));
    request.on('response', (res) => {
      if (res.statusCode !== 200) {
        errorFromResponse(what, res, reject);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (err) => reject(new KubeRequestError(`${what}: ${err.message}`, undefined, { cause: err })));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
  });
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch (err) {
    throw new KubeRequestError(`${what}: the answer is not JSON`, undefined, { cause: err });
  }
  if (!isObject(list) || !Array.isArray(list['items'])) throw new KubeRequestError(`${what}: the answer is not a list`);
  const meta = isObject(list['metadata']) ? list['metadata'] : {};
  const cont = meta['continue'];
  return {
    items: list['items'] as unknown[],
    resourceVersion: typeof meta['resourceVersion'] === 'string' ? meta['resourceVersion'] : '',
    continueToken: typeof cont === 'string' && cont !== '' ? cont : undefined,
  };
}
