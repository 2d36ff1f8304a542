// Preflight runs against the live-mode test world (test/live/live-harness.ts): the Consul and
// Kubernetes doubles with bookinfo migrated, configured as an operator configures
// `discovery serve`. Each trap test adds the one thing that makes its trap.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/platform/log.ts';
import { runPreflight } from '../../src/preflight/preflight.ts';
import type { CheckResult, PreflightReport } from '../../src/preflight/report.ts';
import { CONTROL_KEY, DISCOVERY_TOKEN, type Doubles } from '../live/live-harness.ts';

/** Flags as `discovery serve` gets them; the passthrough cap keeps the connection arithmetic within the double's limit of 200. */
export async function preflightFlags(d: Doubles, token = DISCOVERY_TOKEN): Promise<Record<string, string>> {
  const tokenFile = join(d.dir, `token-${token}`);
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  return {
    'consul-addr': d.consul.url,
    'consul-token-file': tokenFile,
    kubeconfig: d.kubeconfig,
    namespace: 'discovery',
    'control-key': CONTROL_KEY,
    'replica-id': 'preflight-test',
    'state-dir': d.dir,
    'live.max-passthrough-blocking': '64',
  };
}

export async function preflightOn(d: Doubles, flags: Record<string, string> = {}, token?: string): Promise<PreflightReport> {
  const config = await loadConfig({ configFile: undefined, flags: { ...(await preflightFlags(d, token)), ...flags }, env: {} });
  return runPreflight(config, {}, { log: createLogger('silent'), timeoutMs: 10_000 });
}

export function check(r: PreflightReport, id: string): CheckResult {
  const found = r.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report: ${r.checks.map((c) => c.id).join(', ')}`);
  return found;
}

export function describe(r: PreflightReport): string {
  return r.checks.map((c) => `${c.status} ${c.id}: ${c.reason}`).join('\n');
}
