// The small HTTP servers' shared bits (hub, demo app, test origins, bench, lists).

/**
 * Listens on `port` (0: any) and `host`; returns `{url, port, origin, close}`,
 * where `origin(name)` is this server under another host name (the tests'
 * *.test names all resolve here).
 */
export async function listen(server, port, host) {
  await new Promise((resolve) => server.listen(port, host, resolve));
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    origin: (name) => `http://${name}:${actual}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** The value after `--name` on the command line, if any. */
export function cliArg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
