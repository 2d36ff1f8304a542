#!/usr/bin/env node
// npm bin entry: run the TypeScript sources through tsx's loader (a runtime dependency).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
