// A real proxyless gRPC client (@grpc/grpc-js-xds) resolving xds:/// through xdsim and calling
// real backends on 127.0.0.2-4, registered as WorkloadEntries in three localities.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll } from 'vitest';
import { describeProxylessClient, ECHO_TARGET, EchoMesh, whoMethod } from '../helpers/echo-mesh.js';

const EchoClient = grpc.makeGenericClientConstructor({ Who: whoMethod }, 'Echo');

let mesh: EchoMesh;
let client: grpc.Client;

function who(deadlineMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    (client as unknown as { Who: (req: Buffer, opts: grpc.CallOptions, cb: grpc.requestCallback<Buffer>) => void }).Who(
      Buffer.alloc(0),
      { deadline: Date.now() + deadlineMs },
      (err, res) => resolve(err ? `error:${grpc.status[err.code]}` : res!.toString()),
    );
  });
}

async function tally(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => who()));
    for (const b of batch) out[b] = (out[b] ?? 0) + 1;
  }
  return out;
}

beforeAll(async () => {
  mesh = await EchoMesh.start();
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify(mesh.bootstrap());
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
  client = new EchoClient(ECHO_TARGET, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await mesh?.close();
});

describeProxylessClient('grpc-js-xds client', () => ({ mesh, tally }));
