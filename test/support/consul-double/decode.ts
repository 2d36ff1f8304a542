// Reading request bodies as Go's encoding/json does for Consul's structs: field names match
// exactly first, then case-insensitively; a value of the wrong JSON type is a decode error.

import { ConsulHttpError } from './types.ts';

export type JsonObject = Readonly<Record<string, unknown>>;

export function decodeFailed(why: string): ConsulHttpError {
  return new ConsulHttpError(400, `Request decode failed: ${why}`);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

function wrongType(v: unknown, where: string, goType: string): ConsulHttpError {
  return decodeFailed(`json: cannot unmarshal ${jsonType(v)} into Go struct field ${where} of type ${goType}`);
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw decodeFailed(err instanceof Error ? err.message : String(err));
  }
}

/** A field of a decoded object: exact name first, then any spelling that differs only in case. */
export function field(obj: JsonObject, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

export function str(obj: JsonObject, name: string, where: string): string {
  const v = field(obj, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw wrongType(v, `${where}.${name}`, 'string');
  return v;
}

export function int(obj: JsonObject, name: string, where: string, fallback = 0): number {
  const v = field(obj, name);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(v, `${where}.${name}`, 'int');
  return v;
}

export function bool(obj: JsonObject, name: string, where: string): boolean {
  const v = field(obj, name);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw wrongType(v, `${where}.${name}`, 'bool');
  return v;
}

export function strings(obj: JsonObject, name: string, where: string): string[] {
  const v = field(obj, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string')) throw wrongType(v, `${where}.${name}`, '[]string');
  return v as string[];
}

export function stringMap(obj: JsonObject, name: string, where: string): Record<string, string> | null {
  const v = field(obj, name);
  if (v === undefined || v === null) return null;
  if (!isObject(v) || Object.values(v).some((t) => typeof t !== 'string')) throw wrongType(v, `${where}.${name}`, 'map[string]string');
  return Object.keys(v).length === 0 ? null : { ...(v as Record<string, string>) };
}

export function object(obj: JsonObject, name: string, where: string): JsonObject | null {
  const v = field(obj, name);
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw wrongType(v, `${where}.${name}`, 'struct');
  return v;
}

export function objects(obj: JsonObject, name: string, where: string): JsonObject[] {
  const v = field(obj, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((t) => !isObject(t))) throw wrongType(v, `${where}.${name}`, '[]struct');
  return v as JsonObject[];
}
