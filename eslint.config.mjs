import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Guard rails of the IB boundary (README, Development): @stoqey/ib lives in repositories, the simulator
// stands alone, and the service imports the simulator only where it runs it. test/unit/structure checks the
// same rules and the absence of import circles.
const IB_ONLY_IN_REPOSITORIES = {
  name: '@stoqey/ib',
  message:
    'Only *.repository.ts files speak @stoqey/ib; give the domain repository a method in domain terms.',
};
const SIMULATOR_ONLY_WHERE_RUN = {
  regex: '^(\\./|(\\.\\./)+)simulator(/|$)',
  message:
    'The service imports the simulator only where it runs it (main.ts, cli.ts, the simulator runtime).',
};
const SIMULATOR_RUNNERS = [
  'src/main.ts',
  'src/cli.ts',
  'src/gateway/gateway.module.ts',
  'src/gateway/simulator-gateway-runtime.ts',
];
const IB_CLIENT_ONLY_IN_REPOSITORIES = {
  selector: 'MemberExpression[property.name=/^ib(Client|Request|RawApi)$/]',
  message: "The IB client is for repositories only: ask the domain's repository instead.",
};
const NO_FORWARD_REF = {
  selector: "Identifier[name='forwardRef']",
  message: 'No forwardRef: an import circle is the thing to fix (config tokens live in src/config).',
};
const noSimulatorOutside = (depth) => ({
  regex: `^${'\\.\\./'.repeat(depth)}`,
  message: 'The simulator imports nothing of the service.',
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      'coverage/**',
      '*.js',
      '*.mjs',
      // Scripts a test runs in a child process under plain Node (ES modules no TypeScript project holds).
      'test/**/*.mjs',
      'docker/rootfs/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Async safety: a forgotten promise loses errors, a misused one runs out of order.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/promise-function-async': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/simulator/**', 'src/**/*.repository.ts', ...SIMULATOR_RUNNERS],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [IB_ONLY_IN_REPOSITORIES], patterns: [SIMULATOR_ONLY_WHERE_RUN] },
      ],
      'no-restricted-syntax': ['error', IB_CLIENT_ONLY_IN_REPOSITORIES, NO_FORWARD_REF],
    },
  },
  {
    files: ['src/**/*.repository.ts'],
    ignores: ['src/simulator/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [SIMULATOR_ONLY_WHERE_RUN] }],
      'no-restricted-syntax': ['error', NO_FORWARD_REF],
    },
  },
  {
    files: SIMULATOR_RUNNERS,
    rules: {
      'no-restricted-imports': ['error', { paths: [IB_ONLY_IN_REPOSITORIES] }],
      'no-restricted-syntax': ['error', IB_CLIENT_ONLY_IN_REPOSITORIES, NO_FORWARD_REF],
    },
  },
  {
    files: ['src/simulator/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSimulatorOutside(1)] }] },
  },
  {
    files: ['src/simulator/*/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSimulatorOutside(2)] }] },
  },
  {
    files: ['test/**/*.ts', 'src/**/*.spec.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
