// Child processes of the benchmarks run the same way as the benchmark itself: compiled JavaScript
// under `npm run bench` (dist-bench/, built by tsc), or through tsx when a bench .ts file is run
// directly. tsx wraps every closure in __name(), which would tax Discovery's hot paths.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const COMPILED = import.meta.url.endsWith('.js');

/** Node arguments that run `bench/<name>.ts` (or its compiled twin). */
export function benchScript(name: string): string[] {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  return COMPILED ? [join(dir, name.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', join(dir, name)];
}

/** Node arguments that run the `discovery` CLI. */
export function discoveryCli(): string[] {
  return COMPILED ? [fileURLToPath(new URL('../src/main.js', import.meta.url))] : [fileURLToPath(new URL('../bin/discovery.js', import.meta.url))];
}

/** Where results are written: the repository's bench/ folder in both layouts. */
export const BENCH_DIR = fileURLToPath(new URL(COMPILED ? '../../bench/' : './', import.meta.url));
