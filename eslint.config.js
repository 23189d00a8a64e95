// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/** STYLE.md's import boundaries, as restricted import patterns per folder. */
const boundary = (files, patterns, message) => ({
  files,
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      { patterns: [{ group: patterns, message, allowTypeImports: false }] },
    ],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/', '.local/', 'dist/', '.tools/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // @kubernetes/client-node models are classes, but plain objects are how its API is used.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      'max-lines': ['warn', { max: 320, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  // Only config/ reads the environment (the launcher reads its own in env/; tooling is exempt).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/**', 'src/env/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only src/config/ reads process.env (STYLE.md).' },
      ],
    },
  },
  boundary(['src/controller/**'], ['**/webhook/**', '**/proxy/**', '**/env/**'], 'controller/ never imports webhook/, proxy/ or env/.'),
  boundary(['src/webhook/**'], ['**/controller/**', '**/proxy/**', '**/env/**'], 'webhook/ never imports controller/, proxy/ or env/.'),
  boundary(['src/proxy/**'], ['**/controller/**', '**/webhook/**', '**/env/**'], 'proxy/ never imports controller/, webhook/ or env/.'),
  boundary(
    ['src/env/**'],
    ['express', '@kubernetes/client-node', '**/controller/**', '**/webhook/**', '**/proxy/**', '**/kube/**', '**/server/**', '**/main.ts'],
    'env/ ships into every container: no express, no Kubernetes client, no controller code.',
  ),
  boundary(
    ['src/shared/**', 'src/config/**', 'src/kube/**', 'src/aws/**'],
    ['**/controller/**', '**/webhook/**', '**/proxy/**', '**/env/**', '**/main.ts'],
    'shared layers never import the components that use them.',
  ),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      // Tests copy client-node model objects with spread to make variants.
      '@typescript-eslint/no-misused-spread': 'off',
      // eventually() takes async callbacks, some of which only check in-memory state.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
