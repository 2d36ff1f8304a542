// Type-aware lint (typescript-eslint) plus the data-flow rule: a folder may import only from
// folders upstream of it in sources -> world -> decision -> lookup -> front ends -> observe ->
// reconcile -> sinks, or from platform/ and config/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (from, forbidden) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', { patterns: forbidden.map((f) => ({ group: [`**/${f}/**`], message: `${from}/ must not depend on ${f}/ (data flows one way; see docs/architecture.md)` })) }],
  },
});

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
  layer('platform', ['world', 'decision', 'lookup', 'frontends', 'observe', 'reconcile', 'sinks', 'sources', 'control', 'admin', 'cli']),
  layer('world', ['decision', 'lookup', 'frontends', 'observe', 'reconcile', 'sinks', 'sources', 'control', 'admin', 'cli']),
  layer('decision', ['lookup', 'frontends', 'observe', 'reconcile', 'sinks', 'sources', 'control', 'admin', 'cli']),
  layer('sources', ['decision', 'lookup', 'frontends', 'observe', 'reconcile', 'sinks', 'control', 'admin', 'cli']),
  layer('lookup', ['frontends', 'observe', 'reconcile', 'sinks', 'sources', 'admin', 'cli']),
  layer('frontends', ['observe', 'reconcile', 'sinks', 'sources', 'admin', 'cli']),
  layer('sinks', ['frontends', 'lookup', 'admin', 'cli']),
);
