// Reads the tested command blocks out of a runbook: a fenced block with the info string
// `sh tested` holds `discovery ...` commands, one a line (a trailing `\` continues a line, `#`
// starts a comment); a fenced block with the info string `text expected` right after it holds
// lines its output must contain. Commands are split into words as a POSIX shell would for this
// small grammar (single and double quotes, $VAR and ${VAR} outside single quotes); anything
// else a shell would do (pipes, redirections, substitutions, several commands on a line) is
// refused, so a tested block never means more than the test runs.

export interface TestedBlock {
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
  /** Each command as written (continuations joined). */
  readonly commands: readonly string[];
  /** Lines the combined output of the commands must contain; empty when no expected block follows. */
  readonly expected: readonly string[];
}

interface Fence {
  readonly line: number;
  readonly info: string;
  readonly body: string[];
}

function fences(markdown: string): Fence[] {
  const out: Fence[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(```+)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(open[1]!)) body.push(lines[j++]!);
    if (j >= lines.length) throw new Error(`line ${i + 1}: a fenced block is never closed`);
    out.push({ line: i + 1, info: open[2]!.trim(), body });
    i = j;
  }
  return out;
}

export function testedBlocks(markdown: string): TestedBlock[] {
  const all = fences(markdown);
  const out: TestedBlock[] = [];
  all.forEach((f, k) => {
    if (f.info === 'text expected' && all[k - 1]?.info !== 'sh tested') throw new Error(`line ${f.line}: a \`text expected\` block must follow a \`sh tested\` block`);
    if (f.info !== 'sh tested') return;
    const commands: string[] = [];
    let pending = '';
    for (const raw of f.body) {
      const line = pending + raw;
      if (line.endsWith('\\')) {
        pending = `${line.slice(0, -1)} `;
        continue;
      }
      pending = '';
      if (line.trim() !== '' && !line.trim().startsWith('#')) commands.push(line.trim());
    }
    const next = all[k + 1];
    const expected = next?.info === 'text expected' ? next.body.map((l) => l.trim()).filter((l) => l !== '') : [];
    out.push({ line: f.line, commands, expected });
  });
  return out;
}

/** $VAR and ${VAR} from `vars`; an unset variable is an error (a runbook must say what to set). */
export function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = vars[name];
    if (value === undefined) throw new Error(`variable $${name} is not set for tested blocks`);
    return value;
  });
}

/** The words of one command line, as the shell would pass them. */
export function words(command: string, vars: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  let word: string | null = null;
  let i = 0;
  const add = (s: string) => (word = (word ?? '') + s);
  while (i < command.length) {
    const c = command[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== null) out.push(word);
      word = null;
      i++;
    } else if (c === '#' && word === null) {
      break;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${command}`);
      add(command.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      const end = command.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unclosed " in: ${command}`);
      const inner = command.slice(i + 1, end);
      if (/[`\\]|\$\(/.test(inner)) throw new Error(`tested commands take no substitutions or escapes: ${command}`);
      add(expand(inner, vars));
      i = end + 1;
    } else if ('|&;<>()`\\'.includes(c) || command.startsWith('$(', i)) {
      throw new Error(`tested blocks hold plain commands (no pipes, redirections, substitutions or lists): ${command}`);
    } else {
      const m = /^[^\s'"|&;<>()`\\]+/.exec(command.slice(i))!;
      add(expand(m[0], vars));
      i += m[0].length;
    }
  }
  if (word !== null) out.push(word);
  return out;
}
