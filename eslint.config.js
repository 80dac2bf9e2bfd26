import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '.helm/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // A catch that swallows is a bug (STYLE.md): empty catch blocks are errors.
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Pure packages: no clocks, randomness or process access (STYLE.md "logic in the middle").
    files: [
      'packages/cluster/src/**/*.ts',
      'packages/storage-node/src/resp/**/*.ts',
      'packages/cluster-store/src/embedded-state.ts',
      'packages/cluster-store/src/documents.ts',
    ],
    rules: {
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'setImmediate'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Pass nowMs in; pure modules do not read clocks.' },
        { object: 'Math', property: 'random', message: 'Inject a seeded generator.' },
      ],
    },
  },
);
