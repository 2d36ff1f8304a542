// Go's time.ParseDuration, which Consul uses for ?wait and ?max_stale: a unit is required
// ("10s", "120000ms", "1.5h", "1h30m"); a bare "0" is the one unitless value allowed.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;

/** Milliseconds (may be fractional or negative), or null when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | null {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0;
  while (s.length > 0) {
    const m = PART.exec(s);
    if (!m) return null;
    const [whole, intPart = '', fracPart, unit = ''] = m;
    // Go rejects "." and "s" alone: a number needs at least one digit.
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return null;
    const factor = UNIT_MS[unit];
    if (factor === undefined) return null;
    total += Number(`${intPart || '0'}.${fracPart ?? '0'}`) * factor;
    s = s.slice(whole.length);
  }
  return sign * total;
}
