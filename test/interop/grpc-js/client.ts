// A proxyless @grpc/grpc-js-xds client as a child process, for tests that need one client per
// control plane (grpc-js-xds reads its bootstrap once per process): the stdin protocol of the
// grpc-go client (test/interop/grpc-go/main.go). Run with `node --import tsx client.ts -target xds:///...`.
//
//   tally <n>   make n RPCs, print {"<backend>": count, ...} (failures as "error:<code>")
//   quit        exit
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { whoMethod } from '../../helpers/echo-method.js';

const args = process.argv.slice(2);
const target = args[args.indexOf('-target') + 1];
if (!args.includes('-target') || !target) {
  process.stderr.write('-target is required\n');
  process.exit(2);
}

xds.register();
const EchoClient = grpc.makeGenericClientConstructor({ Who: whoMethod }, 'Echo');
const client = new EchoClient(target, grpc.credentials.createInsecure());
type Who = (req: Buffer, opts: grpc.CallOptions, cb: grpc.requestCallback<Buffer>) => void;

function who(deadlineMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    (client as unknown as { Who: Who }).Who(Buffer.alloc(0), { deadline: Date.now() + deadlineMs }, (err, res) =>
      resolve(err ? `error:${grpc.status[err.code]}` : res!.toString()),
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

process.stdout.write('{"ready":true}\n');
const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (!cmd) return;
  queue = queue.then(async () => {
    if (cmd === 'tally') {
      const n = Math.max(1, Number.parseInt(arg ?? '1', 10) || 1);
      process.stdout.write(`${JSON.stringify(await tally(n))}\n`);
    } else if (cmd === 'quit') {
      client.close();
      process.exit(0);
    } else {
      process.stderr.write(`unknown command: ${cmd}\n`);
    }
  });
});
lines.on('close', () => {
  void queue.then(() => {
    client.close();
    process.exit(0);
  });
});
