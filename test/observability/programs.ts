// The programs the observability tests drive (promtool, chromium) come from Debian packages that
// scripts/test-prerequisites.sh installs when run as root, as CI does. Only where they cannot be
// installed (not root) does a test skip, saying what to install; as root a missing program fails.

import { execFileSync } from 'node:child_process';

function onPath(program: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** The program's path, or the skip message for test(..., { skip }) when it is missing and cannot be installed here. */
export function requireProgram(program: string, debianPackage: string): { path: string; skip: false } | { path: null; skip: string } {
  const path = onPath(program);
  if (path) return { path, skip: false };
  if (process.getuid?.() === 0) {
    throw new Error(`${program} is not installed: scripts/test-prerequisites.sh (npm's pretest) installs it as root (apt-get install ${debianPackage})`);
  }
  return { path: null, skip: `${program} is not installed and this user cannot install it: sudo apt-get install -y ${debianPackage}` };
}
