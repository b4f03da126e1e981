import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most files spend their time waiting on CLI child processes and loopback servers, not on the
    // CPU: two files at once on 2 cores (the default here is one) halves the wall time.
    maxWorkers: 2,
  },
});
