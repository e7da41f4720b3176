// MAIN world, part 3: the proposed fetch() integration, in windows and workers.
//
//   fetch(url, {integrity: 'sha256-…', crossOriginStorage: '' | '*' | [origins]})
//
// The member's presence opts in ('' = same-site). A hit is answered from
// the store with no network request; anything else (not stored, out of
// scope, refused) is an ordinary network fetch, integrity-checked by the
// browser itself, whose body is stored with that scope as the caller reads
// it. Without the member, fetch() is the browser's own, called as it was.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function fetchIntegration(scope, env) {
  'use strict';
  const { Request, Response, ReadableStream, Proxy, Reflect, Uint8Array, Object, String, Array, Promise, atob } = scope;
  /** The first bytes of every WebAssembly module ("\0asm"). */
  const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

  /**
   * The lowercase hex SHA-256 digest named by SRI metadata, or null. Of
   * several sha256 values the first is looked up (the network path still
   * accepts any of them); other algorithms are ignored, as SRI ignores
   * algorithms it does not support.
   */
  function sha256Of(integrity) {
    for (const token of String(integrity).split(/\s+/)) {
      const match = /^sha256-([A-Za-z0-9+/_-]+={0,2})(\?.*)?$/i.exec(token);
      if (!match) continue;
      let bytes;
      try {
        // SRI takes base64; base64url is accepted too, as browsers do.
        bytes = atob(match[1].replace(/-/g, '+').replace(/_/g, '/'));
      } catch {
        continue;
      }
      if (bytes.length !== 32) continue;
      return Array.from(bytes, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    }
    return null;
  }

  /**
   * A hit: the stored bytes, status 200, and no header a network exchange
   * would have produced. The entry holds bytes only; its one type is the
   * one the bytes prove (a WebAssembly module, so that
   * WebAssembly.instantiateStreaming accepts it), the same on every read.
   */
  async function storedResponse(file, url) {
    const head = new Uint8Array(await file.slice(0, WASM_MAGIC.length).arrayBuffer());
    const isWasm = WASM_MAGIC.every((byte, i) => head[i] === byte);
    const response = new Response(isWasm ? file.slice(0, file.size, 'application/wasm') : file.slice(), { status: 200 });
    return asFetched(response, { url, redirected: false, type: response.type });
  }

  /** A constructed Response says where it came from, as a fetched one does. */
  function asFetched(response, { url, redirected, type }) {
    Object.defineProperties(response, {
      url: { get: () => url, configurable: true },
      redirected: { get: () => redirected, configurable: true },
      type: { get: () => type, configurable: true },
    });
    return response;
  }

  /**
   * A miss: the network response, its body passed through to the caller at
   * the caller's pace and written to the store on the way (nothing is held
   * back, so memory does not grow with the size). The store verifies the
   * bytes as any write; the body ends once they are stored (or refused), so
   * a caller that has read it can find it in the store. A failed store is
   * never the caller's error.
   */
  function storing(response, hash, origins) {
    const reader = response.body.getReader();
    const writable = env
      .getFileHandle({ algorithm: 'SHA-256', value: hash }, { create: true, origins })
      .then((handle) => handle.createWritable())
      .then((stream) => stream.getWriter());
    writable.catch(() => {});
    let storing = true;
    const stopStoring = () => {
      if (!storing) return;
      storing = false;
      writable.then((writer) => writer.abort()).catch(() => {});
    };
    const body = new ReadableStream(
      {
        async pull(controller) {
          let chunk;
          try {
            chunk = await reader.read();
          } catch (error) {
            stopStoring();
            throw error;
          }
          if (chunk.done) {
            if (storing) await writable.then((writer) => writer.close()).catch(() => {});
            return controller.close();
          }
          // Stored first: the writer has copied the bytes once this resolves,
          // before the caller can transfer or change them.
          if (storing) await writable.then((writer) => writer.write(chunk.value)).catch(stopStoring);
          controller.enqueue(chunk.value);
        },
        cancel(reason) {
          stopStoring();
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    const passed = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    return asFetched(passed, response);
  }

  async function throughStore(nativeFetch, thisArg, request, scopeValue) {
    const hash = request.method === 'GET' ? sha256Of(request.integrity) : null;
    if (!hash) return Reflect.apply(nativeFetch, thisArg, [request]);
    request.signal.throwIfAborted();
    try {
      const handle = await env.getFileHandle({ algorithm: 'SHA-256', value: hash });
      const file = await handle.getFile();
      request.signal.throwIfAborted();
      return await storedResponse(file, request.url);
    } catch (error) {
      if (error?.name === 'AbortError' && request.signal.aborted) throw request.signal.reason;
      // Not found, out of scope, refused: all the same ordinary network fetch.
    }
    const response = await Reflect.apply(nativeFetch, thisArg, [request]);
    if (!response.body || response.type === 'opaque') return response;
    // '' is the same-site default, spelled as an omitted `origins`.
    const origins = scopeValue === '' ? undefined : env.toOrigins(scopeValue);
    return storing(response, hash, origins);
  }

  env.sha256OfIntegrity = sha256Of;
  const nativeFetch = scope.fetch;
  // A Proxy keeps fetch's name, length and (as far as V8 goes) its toString.
  scope.fetch = new Proxy(nativeFetch, {
    apply(target, thisArg, args) {
      const [input, init] = args;
      const relative = typeof input === 'string' || input instanceof scope.URL;
      // In a worker, relative URLs follow the worker's script URL (api/worker-scope.js).
      const resolved = relative ? [env.resolveURL(String(input)), ...Array.prototype.slice.call(args, 1)] : args;
      const scopeValue = init !== null && typeof init === 'object' ? init.crossOriginStorage : undefined;
      if (scopeValue === undefined) return Reflect.apply(target, thisArg, resolved);
      let request;
      try {
        request = new Request(resolved[0], init);
      } catch (error) {
        return Promise.reject(error);
      }
      return throughStore(target, thisArg, request, scopeValue);
    },
  });
});
