import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './e2e',
  outputDir: '../test-results',
  // Each test launches its own Chromium with a fresh profile; two at a time fit 2 cores.
  workers: process.env.CI ? 2 : undefined,
  fullyParallel: true,
  timeout: 60_000,
  reporter: [['list'], ['json', { outputFile: '../test-results/e2e.json' }]],
  forbidOnly: !!process.env.CI,
});
