// `discovery preflight`: the same configuration as `discovery serve` (--config, flags, DISCOVERY_*
// environment), checked against the live upstreams; the report as text or `-o json`. Returns the
// exit code: 0 without blockers, PREFLIGHT_BLOCKED with any.

import { parseArgs } from 'node:util';
import { KNOBS } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { DiscoveryError } from '../platform/errors.ts';
import { parseGoDuration } from '../platform/go-duration.ts';
import { createLogger } from '../platform/log.ts';
import { runPreflight } from '../preflight/preflight.ts';
import { reportText } from '../preflight/report.ts';
import type { Io } from './cli-args.ts';

/** Exit code when the checks found a blocker (1 and 2 stay for failures of the command itself). */
export const PREFLIGHT_BLOCKED = 3;

const FLAG_KNOBS = KNOBS.filter((k) => !k.key.includes('.'));

export async function preflight(args: string[], io: Io): Promise<number> {
  const options: Record<string, { type: 'string'; short?: string }> = { config: { type: 'string' }, output: { type: 'string', short: 'o' }, timeout: { type: 'string' } };
  for (const k of FLAG_KNOBS) options[k.key] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `${(err as Error).message}\nusage: discovery preflight [--config FILE] [flags as for serve] [--timeout 30s] [-o text|json]`);
  }
  const output = values['output'] ?? 'text';
  if (output !== 'text' && output !== 'json') throw new DiscoveryError('DSC_ERR_BAD_REQUEST', '-o must be text or json');
  const timeoutText = typeof values['timeout'] === 'string' ? values['timeout'] : '30s';
  const timeoutMs = parseGoDuration(timeoutText);
  if (timeoutMs === null || timeoutMs <= 0) throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `--timeout must be a duration such as 30s, got ${JSON.stringify(timeoutText)}`);

  const flags: Record<string, string> = {};
  for (const k of FLAG_KNOBS) {
    const v = values[k.key];
    if (typeof v === 'string') flags[k.key] = v;
  }
  const configFile = typeof values['config'] === 'string' ? values['config'] : io.env['DISCOVERY_CONFIG'];
  const config = await loadConfig({ configFile, flags, env: io.env });
  // The report is the output; the live sources' own logs would only get in its way.
  const result = await runPreflight(config, io.env, { log: createLogger('silent'), timeoutMs });
  io.out(output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : reportText(result));
  return result.ok ? 0 : PREFLIGHT_BLOCKED;
}
