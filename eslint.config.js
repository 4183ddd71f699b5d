// Lint: the recommended JavaScript and TypeScript rules; formatting is prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.tmp/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Kysely<any> is Kysely's own way to write dialect-agnostic helpers and migrations.
    files: ['src/storage/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Tests read JSON answers whose shape is what they assert.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The examples and the bin script are plain JavaScript run by node.
    files: ['examples/**/*.js', 'bin/*.js', 'console/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // Signature parsing must recognise control characters in hostile input.
    files: ['src/core/signature/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
