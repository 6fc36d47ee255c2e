// The lint gate (`npm run lint`, run by .ci/run before the tests). Type-aware typescript-eslint:
// the rules that catch what tsc does not (a promise nobody awaits, a promise where a callback's
// result is ignored, imports kept only for types), plus the layering of docs/CONTRIBUTING.md written
// as import rules, so that a pure module that reaches for a socket or a clock fails here and not in
// review. Formatting is Prettier's job (`npm run format:check`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node modules that do I/O: never in the pure layers. */
const IO_MODULES = [
  'net',
  'dgram',
  'fs',
  'fs/promises',
  'child_process',
  'timers',
  'timers/promises',
  'http',
  'https',
  'tls',
  'dns',
  'os',
].flatMap((m) => [m, `node:${m}`]);
const ioImports = IO_MODULES.map((name) => ({ name, message: 'pure module: no I/O here (docs/ARCHITECTURE.md); take data, return data' }));

/**
 * What each folder of src/ may import (docs/CONTRIBUTING.md's module map; each folder's opening
 * comment says the same). Everything else of ours is refused. `peer-model` is src/peers/model.ts,
 * keys.ts and material.ts, the one part of src/peers that the layers below it (policy, ike-bridge)
 * may read.
 */
const FOLDERS = [
  'util',
  'wire',
  'dnssec',
  'policy',
  'peers',
  'ike-bridge',
  'resolver',
  'publish',
  'control',
  'capture',
  'trust',
  'autosp',
  'responder',
  'config',
  'daemon',
  'doctor',
  'cli',
];
const MAY_IMPORT = {
  util: [],
  wire: ['util'],
  dnssec: ['wire', 'util'],
  'ike-bridge': ['peer-model', 'wire', 'util'],
  policy: ['peer-model', 'dnssec', 'wire', 'util'],
  resolver: ['dnssec', 'wire', 'util'],
  peers: ['ike-bridge', 'policy', 'dnssec', 'wire', 'util'],
  publish: ['ike-bridge', 'peer-model', 'dnssec', 'wire', 'util'],
  control: ['ike-bridge', 'peer-model', 'util'],
  capture: ['resolver', 'peers', 'policy', 'ike-bridge', 'dnssec', 'wire', 'util'],
  trust: ['resolver', 'dnssec', 'wire', 'util'],
  autosp: ['control', 'publish', 'resolver', 'peers', 'policy', 'ike-bridge', 'dnssec', 'wire', 'util'],
  responder: ['resolver', 'peers', 'policy', 'ike-bridge', 'dnssec', 'wire', 'util'],
  config: [
    'autosp',
    'responder',
    'capture',
    'trust',
    'control',
    'publish',
    'resolver',
    'peers',
    'policy',
    'ike-bridge',
    'dnssec',
    'wire',
    'util',
  ],
  daemon: FOLDERS.filter((f) => !['daemon', 'doctor', 'cli'].includes(f)),
  doctor: FOLDERS.filter((f) => !['daemon', 'doctor', 'cli'].includes(f)),
  cli: FOLDERS.filter((f) => f !== 'cli'),
};

/**
 * The patterns below read an import path as written, so it must be written plainly: './../peers/x',
 * '../policy/../peers/x' or '../../src/peers/x' name src/peers too and would pass them.
 */
const plainPath = {
  regex: '(^\\./\\.\\./|/\\./|(^|/)[^./][^/]*/\\.\\./|(^|/)src/)',
  message: 'write the import path plainly (no ./.., no x/.., no src/): the layering rules read it as written',
};

/** Nor may a module reach around them with a dynamic import() or a require() of a module of ours. */
const dynamicImports = [
  { selector: 'ImportExpression', message: 'no dynamic import(): the layering rules check static imports only' },
  {
    selector: "CallExpression[callee.name='require'][arguments.0.value=/^\\.(?!.*\\.json$)/]",
    message: 'no require() of a module of ours: the layering rules check static imports only',
  },
];

/** Import patterns (from src/<folder>/ or one folder deeper) for the folders `folder` may not import. */
function refused(folder) {
  const allowed = MAY_IMPORT[folder];
  const modelOnly = !allowed.includes('peers') && allowed.includes('peer-model');
  return [
    plainPath,
    ...FOLDERS.filter((f) => f !== folder && !allowed.includes(f)).map((f) => ({
      // A regex, not a gitignore group: a group that refuses '../peers' cannot let '../peers/model' back in.
      regex: f === 'peers' && modelOnly ? '^(\\.\\./){1,2}peers(/(?!(model|keys|material)$).*)?$' : `^(\\.\\./){1,2}${f}(/.*)?$`,
      message:
        `src/${folder} may not import src/${f}${f === 'peers' && modelOnly ? ' (only its model.ts, keys.ts and material.ts)' : ''}` +
        " (see the folder's opening comment and docs/CONTRIBUTING.md)",
    })),
  ];
}

/** Clocks and timers: the pure layers take `now` as an argument (STYLE.md §3). */
const noClock = {
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'performance'].map((name) => ({
      name,
      message: 'pure module: no timers or clocks; take `now` as an argument',
    })),
  ],
  'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'pure module: take `now` as an argument' }],
  'no-restricted-syntax': [
    'error',
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'pure module: `new Date()` reads the clock; take `now` as an argument',
    },
    ...dynamicImports,
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // An async function that does not await is how an interface's Promise-returning method is written.
      '@typescript-eslint/require-await': 'off',
      // Errors matched by code, never by message (STYLE.md §4): only Error objects are thrown.
      '@typescript-eslint/only-throw-error': 'error',
      // Log lines and error texts stringify `unknown` values on purpose (String(x) of whatever came).
      '@typescript-eslint/no-base-to-string': 'off',
      // node-forge's ASN.1 tag types are enums; tags are compared with their RFC 5280 numbers.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  // This file and other plain JavaScript: no TypeScript program to check types against.
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    // Tests, benchmarks and examples read JSON and child-process output whose shape they assert.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      'preserve-caught-error': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  // ---- layering (docs/CONTRIBUTING.md's module map): what each folder may import --------------------
  ...Object.keys(MAY_IMPORT).map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: refused(folder) }], 'no-restricted-syntax': ['error', ...dynamicImports] },
  })),
  // The pure layers, and the peer model, also take no I/O and read no clock.
  ...['wire', 'dnssec', 'policy'].map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: { ...noClock, 'no-restricted-imports': ['error', { paths: ioImports, patterns: refused(folder) }] },
  })),
  {
    files: ['src/peers/model.ts', 'src/peers/keys.ts', 'src/peers/material.ts'],
    rules: {
      ...noClock,
      'no-restricted-imports': [
        'error',
        {
          paths: ioImports,
          patterns: [
            plainPath,
            {
              regex: '^(\\.\\./(?!(wire|util)(/|$))|\\./(?!(model|keys|material)$))',
              message: 'the peer model imports only src/wire and src/util',
            },
          ],
        },
      ],
    },
  },
);
