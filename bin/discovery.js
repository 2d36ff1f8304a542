#!/usr/bin/env node
// npm bin entry. Runs the compiled build (dist/, made by `npm run build` or `npm start`) when it
// exists, else the TypeScript sources through tsx's loader (a runtime dependency).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/main.js', import.meta.url);
if (existsSync(dist) && !process.env.DISCOVERY_FROM_SOURCE) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
