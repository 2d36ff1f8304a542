// Type-aware lint (typescript-eslint) plus the data-flow rule: each folder of src/ may import only
// the folders listed for it below, which are exactly the arrows docs/architecture.md draws.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const FOLDERS = ['platform', 'config', 'world', 'sources', 'decision', 'control', 'gate', 'lookup', 'frontends', 'reconcile', 'sinks', 'admin', 'wiring', 'preflight', 'cli'];

/** What each folder may import (besides itself). src/app.ts and src/main.ts sit above all of them. */
const ALLOWED = {
  platform: [],
  config: ['platform'],
  world: ['platform', 'config'],
  sources: ['platform', 'config', 'world'],
  decision: ['platform', 'config', 'world'],
  control: ['platform', 'config', 'world', 'decision'],
  gate: ['platform', 'config', 'world', 'decision'],
  lookup: ['platform', 'config', 'world', 'decision', 'control', 'gate'],
  // The agent endpoints are the input of the agent-registrations source.
  frontends: ['platform', 'config', 'world', 'decision', 'control', 'gate', 'lookup', 'sources/agent'],
  reconcile: ['platform', 'config', 'world', 'decision', 'control', 'gate', 'lookup', 'sinks'],
  sinks: ['platform', 'config', 'world'],
  admin: ['platform', 'config', 'world', 'decision', 'control', 'gate', 'lookup'],
  // Chooses each part (snapshot or live) and builds it for the app; the app itself never knows which.
  wiring: ['platform', 'config', 'world', 'sources', 'control', 'lookup', 'frontends', 'sinks'],
  // Checks a cluster with the live sources, the world model and the wiring's credential loading.
  preflight: ['platform', 'config', 'world', 'sources', 'frontends', 'wiring'],
  cli: ['platform', 'config', 'world', 'decision', 'control', 'lookup', 'admin', 'wiring', 'preflight'],
};

const layer = (from) => {
  const allowed = ALLOWED[from];
  const patterns = FOLDERS.filter((f) => f !== from && !allowed.includes(f)).map((f) => {
    // A folder allowed only in part (sources/agent) is forbidden apart from that part.
    const parts = allowed.filter((a) => a.startsWith(`${f}/`)).map((p) => p.slice(f.length + 1));
    const except = parts.length ? `(?!(${parts.join('|')})/)` : '';
    return { regex: `(^|/)${f}/${except}`, message: `${from}/ must not import ${f}/ (data flows one way; see docs/architecture.md)` };
  });
  // Only the CLI starts the app and only the wiring builds its parts; everything else is built by them.
  if (from !== 'cli' && from !== 'wiring') patterns.push({ regex: '(^|/)app\\.ts$', message: `${from}/ must not import the app wiring (src/app.ts)` });
  return { files: [`src/${from}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'dist-bench/**', 'bench/out/**', '.state/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/discovery.js'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  // node:test's test() returns a promise the runner awaits itself.
  { files: ['test/**/*.ts', 'bench/**/*.ts'], rules: { '@typescript-eslint/no-floating-promises': 'off' } },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
  ...FOLDERS.map(layer),
);
