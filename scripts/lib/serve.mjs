// Shared bits of the demo's small HTTP servers (hub and app).

/** Listens on `port` (0: any) and `host`; returns `{url, port, close}`. */
export async function listen(server, port, host) {
  await new Promise((resolve) => server.listen(port, host, resolve));
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
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
