// The matrix's Web Worker: runs the row it is sent, as the page would.
import { runRow } from './harness.js';

self.onmessage = async ({ data }) => self.postMessage(await runRow(data));
