// Lint, including the architecture rings: each ring may import only from the rings below it.
//   src/core     pure: no vscode, no Node built-ins
//   src/runtime  Node, no vscode; may use core
//   src/sync     Node, no vscode; may use core and runtime
//   src/host     the only importer of `vscode`
//   src/cli      headless host: no vscode
//   webview-ui   browser code: no vscode, no Node, nothing from src/ but the webview protocols
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = [
  'node:*',
  'fs',
  'fs/*',
  'path',
  'os',
  'net',
  'dgram',
  'child_process',
  'crypto',
  'http',
  'https',
  'stream',
  'worker_threads',
  'process',
  'events',
  'timers',
  'util',
  'readline',
  'tls',
  'zlib',
];
const noVscode = { name: 'vscode', message: 'Only src/host may import vscode (ring rule).' };
const ring = (message, groups, paths = [noVscode]) => ({
  'no-restricted-imports': [
    'error',
    { paths, patterns: groups.map((group) => ({ group, message })) },
  ],
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'out/**',
      'node_modules/**',
      '.vscode-host/**',
      'test-results/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-exports': [
        'error',
        {
          restrictDefaultExports: {
            direct: true,
            named: true,
            defaultFrom: true,
            namedFrom: true,
            namespaceFrom: true,
          },
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: ring('src/core is pure: no Node I/O and no outer ring.', [
      [
        ...nodeBuiltins,
        '**/runtime/**',
        '**/sync/**',
        '**/host/**',
        '**/cli/**',
        'bonjour-service',
      ],
    ]),
  },
  {
    files: ['src/runtime/**/*.ts'],
    rules: ring('src/runtime may import only src/core.', [
      ['**/sync/**', '**/host/**', '**/cli/**'],
    ]),
  },
  {
    files: ['src/sync/**/*.ts'],
    rules: ring('src/sync may import only src/core and src/runtime.', [
      ['**/host/**', '**/cli/**'],
    ]),
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: ring('src/cli may not import src/host.', [['**/host/**']]),
  },
  {
    files: ['src/host/**/*.ts'],
    rules: ring('src/host may not import src/cli.', [['**/cli/**']], []),
  },
  {
    files: ['webview-ui/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noVscode],
          patterns: [
            { group: nodeBuiltins, message: 'webview-ui is browser code: no Node.' },
            {
              regex: '(^|/)src/(runtime|sync|host|cli)(/|$)|(^|/)src/core/(?!protocol/)',
              message:
                'webview-ui may import from src/ only the webview protocols (src/core/protocol).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  prettier,
);
