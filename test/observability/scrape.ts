// Reading a running Discovery's admin listener and its Prometheus text exposition.

import type { App } from '../../src/app.ts';
import { portOf } from '../support/app.ts';

/** One request to the admin listener of a started app: a JSON body, or a raw one with its type; never follows redirects. */
export function adminRequest(app: App, path: string, opts: { method?: string; body?: unknown; raw?: { type: string; body: string }; token?: string; cookie?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.raw) headers['content-type'] = opts.raw.type;
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.cookie !== undefined) headers['cookie'] = opts.cookie;
  const body = opts.raw ? opts.raw.body : opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
  return fetch(`http://127.0.0.1:${portOf(app.addresses.admin)}${path}`, { method: opts.method ?? 'GET', headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
}

/** Parses `name{a="x",b="y"} value` lines: every sample with its metric name and labels. */
export function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with exactly this name and label set; undefined when there is none. */
export function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).sort();
  const hit = samples(text).find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(want));
  return hit?.value;
}

/** Every metric family name the exposition declares (# TYPE lines) and every sample name in it. */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) \S+$/gm)) names.add(m[1]!);
  for (const s of samples(text)) names.add(s.name);
  return names;
}
