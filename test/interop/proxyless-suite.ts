// describeProxylessClient (test/helpers/echo-mesh.ts) for a client flavour run as a child
// process (test/interop/proxyless-clients.ts): build it, start the echo mesh on xdsim, start the
// client with the mesh's bootstrap, and stop both afterwards.
import { afterAll, beforeAll } from 'vitest';
import { describeProxylessClient, ECHO_TARGET, EchoMesh, type Tally } from '../helpers/echo-mesh.js';
import { startProxylessChild, type ClientFlavour, type ProxylessChild } from './proxyless-clients.js';

export function describeChildProxylessClient(flavour: ClientFlavour, buildTimeoutMs = 1_200_000): void {
  let mesh: EchoMesh | undefined;
  let child: ProxylessChild | undefined;
  beforeAll(async () => {
    const cmd = await flavour.prepare({ timeoutMs: buildTimeoutMs, log: (l) => process.stderr.write(`${l}\n`) });
    mesh = await EchoMesh.start();
    child = await startProxylessChild(cmd, ECHO_TARGET, mesh.bootstrap(), { label: `${flavour.name} client` });
  }, buildTimeoutMs + 120_000);

  afterAll(async () => {
    await child?.stop();
    await mesh?.close();
  });

  const tally: Tally = (n) => child!.tally(n);
  describeProxylessClient(`${flavour.title} xDS client`, () => ({ mesh: mesh!, tally }));
}
