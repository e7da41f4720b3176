// Prints the Playwright run as one plain "e2e: N passed, N failed, N skipped" line.
import { readFileSync } from 'node:fs';

const { stats } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const failed = stats.unexpected + stats.flaky;
console.log(`e2e: ${stats.expected} passed, ${failed} failed, ${stats.skipped} skipped`);
