// Objects and small helpers shared by the Kubernetes API double's tests.

import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';

export function namespace(name: string): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function pod(ns: string, name: string, labels: Record<string, string> = {}, podIP = '10.0.0.1'): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: 'app', image: 'app:1' }], nodeName: 'node-1' },
    status: { phase: 'Running', podIP },
  };
}

export function sidecar(ns: string, name: string, hosts: string[] = ['./*']): { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec: unknown } {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name, namespace: ns }, spec: { egress: [{ hosts }] } };
}

export const SIDECARS = { group: 'networking.istio.io', version: 'v1', plural: 'sidecars' } as const;

/** The Status body of a failed client-node call (ApiException.body is the raw JSON text). */
export async function apiError(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
    assert.equal(typeof err.body, 'string', 'client-node hands the error body over as text');
    return { code: err.code, status: JSON.parse(err.body as string) as Record<string, unknown> };
  }
  assert.fail('the call succeeded but an API error was expected');
}

/** metadata of an object returned by the double or by client-node. */
export function meta(o: unknown): Record<string, unknown> {
  return (o as { metadata: Record<string, unknown> }).metadata;
}
