// Browser-level DevTools protocol for what Playwright's persistent context
// does not show: targets of other browser contexts (an incognito window the
// extension opened) and the extension's service worker as a debugger sees it
// (its heap, its Wasm memory). Launch Chromium with DEBUG_PORT_ARG, then
// connect with browserDevTools(userDataDir).
import { chromium } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { liveWorker, sleep } from './sw-tools.mjs';
import { contentScriptsRegistered } from '../../scripts/lib/chromium.mjs';

/** Makes Chromium listen for DevTools on a free port, written to <profile>/DevToolsActivePort. */
export const DEBUG_PORT_ARG = '--remote-debugging-port=0';

async function debugPort(userDataDir, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(join(userDataDir, 'DevToolsActivePort'), 'utf8').catch(() => '');
    const port = Number(text.split('\n')[0]);
    if (port > 0) return port;
    if (Date.now() > deadline) throw new Error(`no DevToolsActivePort in ${userDataDir}: launch with ${DEBUG_PORT_ARG}`);
    await sleep(100);
  }
}

/**
 * A browser-level DevTools session on the Chromium running on `userDataDir`:
 * `targets()` lists every target of every browser context, `attach(targetId)`
 * opens a session on one, `close()` disconnects (the browser keeps running).
 */
export async function browserDevTools(userDataDir) {
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${await debugPort(userDataDir)}`);
  const cdp = await browser.newBrowserCDPSession();
  // Sessions on targets are non-flat: their messages travel inside the browser session's.
  const replies = new Map();
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
    const reply = JSON.parse(message);
    const key = `${sessionId}:${reply.id}`;
    replies.get(key)?.(reply);
    replies.delete(key);
  });
  let nextId = 0;

  async function attach(targetId) {
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: false });
    const send = (method, params = {}, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        const key = `${sessionId}:${id}`;
        const timer = setTimeout(() => {
          replies.delete(key);
          reject(new Error(`${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        replies.set(key, (reply) => {
          clearTimeout(timer);
          if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
          else resolve(reply.result);
        });
        cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
      });
    /** Runs `fn(arg)` in the target's main world; resolves to its value, or `{timeout: true}`. */
    const evaluate = async (fn, arg, timeoutMs = 15_000) => {
      const expression = `(${fn})(${JSON.stringify(arg)})`;
      const timedOut = sleep(timeoutMs).then(() => ({ timeout: true }));
      const run = send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, timeoutMs + 5000).then(
        ({ result, exceptionDetails }) => {
          if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
          return result.value;
        },
      );
      return Promise.race([run, timedOut]);
    };
    return { send, evaluate, detach: () => cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {}) };
  }

  return {
    targets: async () => (await cdp.send('Target.getTargets')).targetInfos,
    attach,
    send: (method, params) => cdp.send(method, params),
    close: () => browser.close().catch(() => {}),
  };
}

/**
 * Allows the extension in incognito windows, as the user does on
 * chrome://extensions; false if it cannot be allowed. The change reloads the
 * extension; one loaded from the command line comes back disabled, so it is
 * enabled again.
 */
export async function allowInIncognito(context, extension) {
  const page = await context.newPage();
  try {
    await page.goto('chrome://extensions/');
    const allowed = await page.evaluate(async (id) => {
      // An extension that refuses incognito ("not_allowed") offers no toggle.
      if (!(await chrome.developerPrivate.getExtensionInfo(id)).incognitoAccess.isEnabled) return false;
      await chrome.developerPrivate.updateExtensionConfiguration({ extensionId: id, incognitoAccess: true });
      for (let tries = 0; tries < 100; tries++) {
        const info = await chrome.developerPrivate.getExtensionInfo(id);
        if (info.state === 'ENABLED' && info.incognitoAccess.isActive) return true;
        if (info.state !== 'ENABLED' && tries % 10 === 5) await chrome.management.setEnabled(id, true).catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the extension did not come back allowed in incognito');
    }, extension);
    // The change reloads the extension: its new worker registers the content
    // scripts again, and a page loaded before that would get no API.
    if (allowed) await contentScriptsRegistered(await liveWorker(context));
    return allowed;
  } finally {
    await page.close();
  }
}
