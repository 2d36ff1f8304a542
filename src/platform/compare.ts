// The one string order: by UTF-16 code unit, as Go's sort.Strings orders byte strings for ASCII
// (every name Consul and Kubernetes allow here is ASCII).

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
