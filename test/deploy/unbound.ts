// The real unbound (Debian's package) with the configuration deploy/dns/unbound ships, moved onto
// loopback for a test: only the cluster-specific lines change (listen address, who may query,
// Discovery's and the cluster DNS's addresses), each found exactly once, so every ECS setting runs
// as shipped. Started as a child process in the foreground and stopped by its PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { DEPLOY } from './kustomize.ts';

export const SHIPPED_CONFIG = join(DEPLOY, 'dns/unbound/unbound.conf');

/** unbound lives in /usr/sbin on Debian, which a non-root PATH may leave out. */
export function unboundBinary(): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    try {
      accessSync(join(d, 'unbound'), constants.X_OK);
      return join(d, 'unbound');
    } catch {
      // not here
    }
  }
  throw new Error('unbound is not installed (Debian package unbound; scripts/test-prerequisites.sh installs it)');
}

export interface LoopbackPlacement {
  /** Where unbound listens: 127.0.0.1@port. */
  readonly port: number;
  /** The address unbound's queries to Discovery leave from (what Discovery may trust). */
  readonly outgoing: string;
  /** Discovery's DNS listener on 127.0.0.1. */
  readonly discoveryPort: number;
  /** unbound's working directory. */
  readonly directory: string;
}

/** The address the shipped file sends ECS to, and the one it forwards consul. to. */
export function shippedDiscoveryAddresses(text: string): { sendClientSubnet: string[]; consulForward: string[] } {
  const sendClientSubnet = [...text.matchAll(/^\s*send-client-subnet:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
  const zone = /forward-zone:\s*\n\s*name:\s*"consul\."\s*\n((?:\s*forward-addr:.*\n?)+)/.exec(text);
  const consulForward = zone ? [...zone[1]!.matchAll(/forward-addr:\s*([^@\s]+)/g)].map((m) => m[1]!) : [];
  return { sendClientSubnet, consulForward };
}

/** The shipped configuration with the cluster-specific lines replaced for loopback. */
export function loopbackConfig(shipped: string, p: LoopbackPlacement): string {
  const { sendClientSubnet, consulForward } = shippedDiscoveryAddresses(shipped);
  if (sendClientSubnet.length !== 1 || consulForward.length !== 1) throw new Error('the shipped unbound.conf must name Discovery once in send-client-subnet and once as the consul. forwarder');
  const discovery = consulForward[0]!;
  let text = shipped;
  const replaceOnce = (pattern: RegExp, by: string, what: string): void => {
    const hits = text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
    if (hits !== 1) throw new Error(`unbound.conf: expected one ${what}, found ${hits}`);
    text = text.replace(new RegExp(pattern.source, 'm'), by);
  };
  replaceOnce(/^(\s*)interface:.*$/, `$1interface: 127.0.0.1@${p.port}\n$1outgoing-interface: ${p.outgoing}\n$1do-not-query-localhost: no`, 'interface');
  replaceOnce(/^(\s*)directory:.*$/, `$1directory: "${p.directory}"`, 'directory');
  replaceOnce(/^(\s*)send-client-subnet:.*$/, '$1send-client-subnet: 127.0.0.1', 'send-client-subnet');
  const escaped = discovery.replace(/[.]/g, '\\.');
  replaceOnce(new RegExp(`^(\\s*)forward-addr:\\s*${escaped}@53\\s*$`), `$1forward-addr: 127.0.0.1@${p.discoveryPort}`, `forward-addr ${discovery}@53`);
  // Every other name (the cluster DNS in a cluster) goes to Discovery too: the test asks only consul. names.
  replaceOnce(/^(\s*)forward-addr:\s*(?!127\.0\.0\.1@)\S+\s*$/, `$1forward-addr: 127.0.0.1@${p.discoveryPort}`, 'forward-addr of the cluster DNS');
  const access = text.match(/^\s*access-control:.*$/gm) ?? [];
  if (access.length === 0) throw new Error('unbound.conf: no access-control lines');
  text = text.replace(/^(\s*)access-control:.*\n/gm, '');
  text = text.replace(/^server:\s*$/m, 'server:\n  access-control: 127.0.0.0/8 allow');
  return text;
}

export interface RunningUnbound {
  readonly child: ChildProcess;
  readonly logs: string[];
  stop(): Promise<void>;
}

/** Starts unbound on `configFile` (written from `config`) and waits until it serves. */
export async function startUnbound(configFile: string, config: string): Promise<RunningUnbound> {
  await writeFile(configFile, config);
  const child = spawn(unboundBinary(), ['-d', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const exited = once(child, 'exit');
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`unbound did not start within 10 s:\n${logs.join('\n')}`)), 10_000);
    const collect = (d: Buffer): void => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        logs.push(line);
        if (/start of service/.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`unbound exited with ${String(code)}:\n${logs.join('\n')}`));
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid!, 'SIGTERM');
    await exited;
  };
  try {
    await started;
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, logs, stop };
}

export async function shippedConfig(): Promise<string> {
  return readFile(SHIPPED_CONFIG, 'utf8');
}
