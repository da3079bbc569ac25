// Three tiers (README, Development): unit = policy classes with a fake clock, no sockets; integration = the
// simulator over TCP, real HTTP, the MCP SDK client; system = a real Docker daemon and headless Chromium.
const common = {
  testEnvironment: 'node',
  // Type checking runs once in `npm run typecheck`; jest only transpiles.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false, tsconfig: { isolatedModules: true } }] },
  setupFilesAfterEnv: ['<rootDir>/test/support/wire-fidelity.setup.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30000,
  projects: ['unit', 'integration', 'system'].map((tier) => ({
    ...common,
    displayName: tier,
    testMatch: [`<rootDir>/test/${tier}/**/*.test.ts`],
  })),
};
