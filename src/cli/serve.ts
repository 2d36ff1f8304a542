// `discovery serve`: load config (file < env < flags), start every part, drain on SIGTERM.

import { parseArgs } from 'node:util';
import { KNOBS } from '../config/schema.ts';
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../platform/log.ts';
import { DiscoveryError } from '../platform/errors.ts';
import { buildApp } from '../app.ts';
import { appDeps } from '../wiring/deps.ts';

const FLAG_KNOBS = KNOBS.filter((k) => !k.key.includes('.'));

export async function serve(args: string[], env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const options: Record<string, { type: 'string' }> = { config: { type: 'string' } };
  for (const k of FLAG_KNOBS) options[k.key] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new DiscoveryError('DSC_ERR_CONFIG', `${(err as Error).message}\nflags: --config FILE ${FLAG_KNOBS.map((k) => `--${k.key}`).join(' ')}`);
  }
  const flags: Record<string, string> = {};
  for (const k of FLAG_KNOBS) {
    const v = values[k.key];
    if (typeof v === 'string') flags[k.key] = v;
  }
  const configFile = typeof values['config'] === 'string' ? values['config'] : env['DISCOVERY_CONFIG'];
  const config = await loadConfig({ configFile, flags, env });
  const log = createLogger(config.logLevel);
  const app = await buildApp(config, await appDeps(config, log, env));
  await app.start();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'draining: answering blocking queries and closing listeners');
    app.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
