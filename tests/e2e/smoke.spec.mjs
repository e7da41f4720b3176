import { test, expect } from './fixtures.mjs';

test('smoke: store on a.test, read on sub.a.test', async ({ openPage, serviceWorker }) => {
  const a = await openPage('a.test');
  expect(await a.evaluate(() => 'crossOriginStorage' in navigator)).toBe(true);
  const hex = await a.evaluate(() => storeBytes(patternBytes(1000)));
  const sub = await openPage('sub.a.test');
  const got = await sub.evaluate((v) => outcome(() => readBack(v)), hex);
  expect(got.ok).toEqual({ size: 1000, hash: hex, name: hex });
});
