// grpc-go, the reference proxyless xDS client, resolving xds:/// through xdsim: the same checks
// as the grpc-js-xds test (describeProxylessClient), from a second, independent implementation. Run with
// `npm run test:interop` (it builds test/interop/grpc-go, which needs Go and its module proxy).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { afterAll, beforeAll, expect } from 'vitest';
import { describeProxylessClient, ECHO_TARGET, EchoMesh } from '../helpers/echo-mesh.js';
import { buildGoProgram } from './go-build.js';

let mesh: EchoMesh;
let client: { bin: string; remove: () => void } | undefined;
let child: ChildProcessWithoutNullStreams;
let lines: Interface;
const pending: ((line: string) => void)[] = [];

function nextLine(timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`grpc-go client: no answer in ${timeoutMs} ms`)), timeoutMs);
    pending.push((line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
}

/** n RPCs made by the Go client: backend name -> count ("error:<code>" for failures). */
async function tally(n: number): Promise<Record<string, number>> {
  const answer = nextLine(60_000);
  child.stdin.write(`tally ${n}\n`);
  return JSON.parse(await answer) as Record<string, number>;
}

beforeAll(async () => {
  client = buildGoProgram('grpc-go', 600_000);
  mesh = await EchoMesh.start();
  child = spawn(client.bin, ['-target', ECHO_TARGET], {
    env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(mesh.bootstrap()) },
  });
  child.stderr.on('data', (d: Buffer) => {
    if (process.env['XDSIM_TEST_LOG']) process.stderr.write(d);
  });
  lines = createInterface({ input: child.stdout });
  lines.on('line', (l) => pending.shift()?.(l));
  expect(JSON.parse(await nextLine(30_000))).toEqual({ ready: true });
}, 660_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.stdin.write('quit\n');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
  lines?.close();
  await mesh?.close();
  client?.remove();
});

describeProxylessClient('grpc-go xDS client', () => ({ mesh, tally }));
