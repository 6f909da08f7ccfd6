// Bench client process: `count` ADS streams, each on its own HTTP/2 connection (raw node:http2,
// so the client side stays cheap), subscribed to one cluster, ACKing every response at once.
// Driven by the parent over IPC.
import http2 from 'node:http2';
import { types } from '../src/proto/index.js';
import { METHOD_PATH } from '../src/proto/services.js';
import { TYPE_URL } from '../src/proto/index.js';

interface Args {
  port: number;
  count: number;
  prefix: string;
  cluster: string;
  locality: { region: string; zone: string; sub_zone: string };
}

const args = JSON.parse(process.argv[2]!) as Args;
const sessions: http2.ClientHttp2Session[] = [];
let ready = 0;
let responses = 0;
let failures = 0;

function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

function request(obj: Record<string, unknown>): Buffer {
  const t = types.DiscoveryRequest;
  return frame(t.encode(t.fromObject(obj)).finish());
}

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${args.port}`);
    sessions.push(session);
    session.on('error', () => {
      failures++;
      resolve();
    });
    const stream = session.request({ ':method': 'POST', ':path': METHOD_PATH.ADS_STREAM, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    let first = true;
    stream.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const len = buf.readUInt32BE(1);
        if (buf.length < 5 + len) break;
        const msg = buf.subarray(5, 5 + len);
        buf = buf.subarray(5 + len);
        const r = types.DiscoveryResponse.decode(msg) as unknown as { version_info: string; nonce: string; type_url: string };
        responses++;
        stream.write(request({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: [args.cluster] }));
        if (first) {
          first = false;
          ready++;
          resolve();
        }
      }
    });
    stream.write(
      request({
        node: { id: `${args.prefix}-${i}`, locality: args.locality },
        type_url: TYPE_URL.ENDPOINT,
        resource_names: [args.cluster],
      }),
    );
  });
}

async function main(): Promise<void> {
  const BATCH = 100;
  for (let i = 0; i < args.count; i += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, args.count - i) }, (_, j) => open(i + j)));
  }
  process.send!({ type: 'ready', ready, failures });
}

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'stats') process.send!({ type: 'stats', ready, responses, failures, rss: process.memoryUsage().rss });
  if (m.cmd === 'exit') {
    for (const s of sessions) s.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));

void main();
