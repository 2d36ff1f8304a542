// Start `discovery serve` as a real child process on free loopback ports, and run CLI commands
// against it. Only processes started here are ever signalled, by PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { eventually } from './eventually.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Always the sources under test (never a possibly stale dist/ build).
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

export interface Served {
  child: ChildProcess;
  http: string;
  dns: string;
  admin: string;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`discovery ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Start serve and wait until /readyz answers 200. freePort() closes its probe before serve binds,
 * so another process can take the port in between: a start that fails to listen is retried on
 * fresh ports (a few times), every other failure is reported.
 */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<Served> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServeOnce(args, env);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !/cannot listen/.test(err.message)) throw err;
    }
  }
}

async function startServeOnce(args: string[], env: Record<string, string>): Promise<Served> {
  const [http, dns, admin] = [await freePort(), await freePort(), await freePort()];
  const addr = { http: `127.0.0.1:${http}`, dns: `127.0.0.1:${dns}`, admin: `127.0.0.1:${admin}` };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'serve', '--http-addr', addr.http, '--dns-addr', addr.dns, '--admin-addr', addr.admin, ...args],
    { cwd: ROOT, env: { ...process.env, DISCOVERY_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  const collect = (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = once(child, 'exit');
  // Ready, or exited (reported below): an exited serve would never answer, so stop waiting at once.
  await eventually(
    async () => {
      if (child.exitCode !== null) return;
      const r = await fetch(`http://${addr.admin}/readyz`);
      assert.equal(r.status, 200);
    },
    'serve to answer /readyz',
    { timeoutMs: 20_000, intervalMs: 100 },
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`serve did not become ready (${err.message}):\n${logs.join('\n')}`);
  });
  if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${logs.join('\n')}`);
  return {
    child,
    ...addr,
    logs,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
