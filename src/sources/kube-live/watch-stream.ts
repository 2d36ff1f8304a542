// One Kubernetes WATCH request: GET <path>?watch=true&resourceVersion=N, then one JSON event per
// line until the server ends the stream (kube-http.ts: authentication, TLS, abort).

import type { KubeConfig } from '@kubernetes/client-node';
import { isObject } from '../shape.ts';
import { KubeRequestError, errorFromResponse, startGet } from './kube-http.ts';

export interface WatchHandlers {
  /** The server answered 200: events follow. */
  connected(): void;
  /** One event: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and its object. */
  event(type: string, object: unknown): void;
  /** The stream ended: null when the server closed it cleanly, else what went wrong. Never called after an abort. */
  done(err: KubeRequestError | null): void;
}

export async function openWatch(kc: KubeConfig, path: string, resourceVersion: string, signal: AbortSignal, handlers: WatchHandlers): Promise<void> {
  const what = `WATCH ${path}`;
  const params: Record<string, string> = { watch: 'true' };
  if (resourceVersion !== '') params['resourceVersion'] = resourceVersion;
  const request = await startGet(kc, path, params, signal);
  if (!request) return;
  let finished = false;
  const finish = (err: KubeRequestError | null): void => {
    if (finished) return;
    finished = true;
    if (!signal.aborted) handlers.done(err);
  };
  request.on('error', (err) => finish(new KubeRequestError(`${what}: ${err.message}`, undefined, { cause: err })));
  request.on('response', (res) => {
    if (res.statusCode !== 200) {
      errorFromResponse(what, res, finish);
      return;
    }
    handlers.connected();
    const handleLine = (line: string): void => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      if (!isObject(parsed) || typeof parsed['type'] !== 'string') {
        request.destroy();
        finish(new KubeRequestError(`${what}: the server sent a line that is not a watch event: ${line.slice(0, 120)}`));
        return;
      }
      handlers.event(parsed['type'], parsed['object']);
    };
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const raw of lines) {
        if (finished || signal.aborted) return;
        const line = raw.trim();
        if (line !== '') handleLine(line);
      }
    });
    res.on('error', (err) => finish(new KubeRequestError(`${what}: ${err.message}`, undefined, { cause: err })));
    res.on('close', () => finish(res.complete ? null : new KubeRequestError(`${what}: the connection closed in the middle of the stream`)));
  });
}
