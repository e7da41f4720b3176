// The messaging bench's content script. On the page's
// postMessage({messagingBench: 'to-service-worker' | 'to-document', mib}),
// sends that many MiB as 4 MiB ArrayBuffers over a runtime port, at most
// IN_FLIGHT unacknowledged (as the page API keeps its writes), and posts
// back {messagingBenchResult: {target, MBps}}: the ceiling of extension
// messaging alone for page bytes, before any hashing or writing.
const IN_FLIGHT = 3;
const CHUNK = 4 << 20;

window.addEventListener('message', async (event) => {
  const target = event.data?.messagingBench;
  if (event.source !== window || (target !== 'to-service-worker' && target !== 'to-document')) return;
  if (target === 'to-document') await chrome.runtime.sendMessage('open-document');
  const port = chrome.runtime.connect({ name: target });
  const total = (event.data.mib << 20) / CHUNK;
  const buffer = new Uint8Array(CHUNK).fill(7).buffer;
  let sent = 0;
  let acked = 0;
  const started = performance.now();
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < total && sent - acked < IN_FLIGHT) port.postMessage({ i: sent++, data: buffer });
      if (acked === total) resolve(undefined);
    };
    port.onMessage.addListener(() => {
      acked++;
      pump();
    });
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  port.disconnect();
  window.postMessage({ messagingBenchResult: { target, MBps: (event.data.mib * 1.048576) / seconds } });
});
