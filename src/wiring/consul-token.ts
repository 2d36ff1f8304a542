// Discovery's own Consul ACL token: from consul-token-file when the configuration names one (an
// explicit setting wins over the environment), else from CONSUL_HTTP_TOKEN, Consul's own variable.
// The token is never logged: errors name the file, never its content.

import { readFile } from 'node:fs/promises';
import type { DiscoveryConfig } from '../config/config.ts';
import { DiscoveryError, errorMessage } from '../platform/errors.ts';

export async function consulToken(config: DiscoveryConfig, env: Readonly<Record<string, string | undefined>>): Promise<string | null> {
  if (config.consulTokenFile) {
    let text: string;
    try {
      text = await readFile(config.consulTokenFile, 'utf8');
    } catch (err) {
      throw new DiscoveryError('DSC_ERR_CONFIG', `consul-token-file ${config.consulTokenFile}: ${errorMessage(err)}`, { cause: err });
    }
    const token = text.trim();
    if (!token) throw new DiscoveryError('DSC_ERR_CONFIG', `consul-token-file ${config.consulTokenFile} is empty`);
    if (/\s/.test(token)) throw new DiscoveryError('DSC_ERR_CONFIG', `consul-token-file ${config.consulTokenFile} holds more than one word; a Consul token is one`);
    return token;
  }
  const fromEnv = env['CONSUL_HTTP_TOKEN']?.trim();
  return fromEnv ? fromEnv : null;
}
