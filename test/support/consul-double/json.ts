// Go encoding/json output as Consul writes it: compact, map keys sorted, `<`, `>`, `&`, U+2028 and
// U+2029 escaped inside strings; `?pretty` gives a 4-space indent and a trailing newline.

const GO_ESCAPES = /[<>&\u2028\u2029]/g;
const GO_ESCAPE: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

export function goJson(value: unknown, pretty = false): string {
  const text = pretty ? `${JSON.stringify(value, null, 4)}\n` : JSON.stringify(value);
  return text.replace(GO_ESCAPES, (c) => GO_ESCAPE[c] ?? c);
}

/** Go sorts map keys when encoding; a JS object keeps insertion order, so copy the keys in sorted order. */
export function sortedMap<V>(m: Readonly<Record<string, V>> | null | undefined): Record<string, V> | null {
  if (m === null || m === undefined) return null;
  const out: Record<string, V> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] as V;
  return out;
}
