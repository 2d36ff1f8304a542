// GET requests to the Kubernetes API with the KubeConfig's authentication, TLS and proxy settings
// (applyToHTTPSOptions: the settings client-node's own requests use, the token re-read as the
// config says), on node:http with an AbortSignal. An abort ends the request at any stage, even
// while it waits for response headers, so a stopped source leaves no socket open.

import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { isObject } from '../shape.ts';

/** A failed LIST or WATCH; `statusCode` is the HTTP status when the server answered (410: expired). */
export class KubeRequestError extends Error {
  readonly statusCode: number | undefined;

  constructor(message: string, statusCode?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeRequestError';
    this.statusCode = statusCode;
  }
}

/** The `message` of a Kubernetes Status body, else the start of the body as text. */
export function statusMessage(body: string): string {
  try {
    const status: unknown = JSON.parse(body);
    if (isObject(status) && typeof status['message'] === 'string' && status['message'] !== '') return status['message'];
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim().slice(0, 200);
}

/** Starts GET <server><path> with `params` added to the path's own query. Null when aborted before it started. */
export async function startGet(kc: KubeConfig, path: string, params: Readonly<Record<string, string>>, signal: AbortSignal): Promise<http.ClientRequest | null> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new KubeRequestError('the kubeconfig has no current cluster');
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  if (signal.aborted) return null;
  const request = (url.protocol === 'https:' ? https : http).request(url, {
    ...options,
    method: 'GET',
    headers: { ...options.headers, accept: 'application/json' },
    signal,
  });
  request.end();
  return request;
}

/** Longest error body read for its Status message. */
const MAX_ERROR_BODY = 64 * 1024;

/** Reads a non-200 answer's body and turns it into the error, "<what>: HTTP <status> <message>". */
export function errorFromResponse(what: string, res: http.IncomingMessage, done: (err: KubeRequestError) => void): void {
  const status = res.statusCode ?? 0;
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    if (body.length < MAX_ERROR_BODY) body += chunk;
  });
  res.on('error', () => done(new KubeRequestError(`${what}: HTTP ${status}`, status)));
  res.on('end', () => done(new KubeRequestError(`${what}: HTTP ${status} ${statusMessage(body)}`.trimEnd(), status)));
}
