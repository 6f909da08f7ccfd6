// Bench client process: `count` ADS streams, each on its own HTTP/2 connection (raw node:http2,
// so the client side stays cheap), subscribed to one cluster, ACKing every response at once.
// Driven by the parent over IPC, and kept across servers: `open` connects to a server, `close`
// drops every connection, so every server of a run is measured with the same client processes.
//
// Client-side timing, the same for every server (istiod and go-control-plane have no hook for
// server-side ACK times): `watch` names the bytes the next change adds to the resource (the new
// endpoint's address field); the first response on each stream that carries them is stamped
// (wall clock, comparable with the parent's), and the stamps go back once every stream has one
// (or on `collect`).
import http2 from 'node:http2';
import { types } from '../src/proto/index.js';
import { METHOD_PATH } from '../src/proto/services.js';
import { TYPE_URL } from '../src/proto/index.js';

interface Args {
  count: number;
  prefix: string;
  cluster: string;
  locality: { region: string; zone: string; sub_zone: string };
}

const args = JSON.parse(process.argv[2]!) as Args;
let sessions: http2.ClientHttp2Session[] = [];
let ready = 0;
let responses = 0;
let failures = 0;
/** The change being watched: its marker and, per stream, when it arrived. */
let watch: { round: number; marker: Buffer; seen: Uint8Array; times: number[] } | undefined;

const wallNow = () => performance.timeOrigin + performance.now();

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

function maybeReport(): void {
  if (watch && watch.times.length >= ready) {
    process.send!({ type: 'seen', round: watch.round, times: watch.times });
    watch = undefined;
  }
}

function open(port: number, i: number): Promise<void> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
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
        if (watch && !watch.seen[i] && msg.includes(watch.marker)) {
          watch.seen[i] = 1;
          watch.times.push(wallNow());
        }
        const r = types.DiscoveryResponse.decode(msg) as unknown as { version_info: string; nonce: string; type_url: string };
        responses++;
        stream.write(request({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: [args.cluster] }));
        if (first) {
          first = false;
          ready++;
          resolve();
        }
        maybeReport();
      }
    });
    // A node id istiod accepts (sidecar~ip~name.namespace~namespace.svc.cluster.local): every
    // server is sent the same requests.
    const ip = `10.100.${(i >> 8) & 255}.${i & 255}`;
    stream.write(
      request({
        node: { id: `sidecar~${ip}~${args.prefix}-${i}.bench~bench.svc.cluster.local`, cluster: 'bench', locality: args.locality },
        type_url: TYPE_URL.ENDPOINT,
        resource_names: [args.cluster],
      }),
    );
  });
}

async function openAll(port: number): Promise<void> {
  const BATCH = 100;
  for (let i = 0; i < args.count; i += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, args.count - i) }, (_, j) => open(port, i + j)));
  }
  process.send!({ type: 'ready', ready, failures });
}

process.on('message', (m: { cmd: string; port?: number; round?: number; marker?: string }) => {
  if (m.cmd === 'open') void openAll(m.port!);
  else if (m.cmd === 'watch') {
    watch = { round: m.round!, marker: Buffer.from(m.marker!, 'hex'), seen: new Uint8Array(args.count), times: [] };
    process.send!({ type: 'watching', round: m.round });
  } else if (m.cmd === 'collect') {
    const w = watch;
    watch = undefined;
    process.send!({ type: 'seen', round: m.round, times: w?.times ?? [] });
  } else if (m.cmd === 'close') {
    for (const s of sessions) s.destroy();
    sessions = [];
    ready = 0;
    failures = 0;
    watch = undefined;
    process.send!({ type: 'closed' });
  } else if (m.cmd === 'stats') process.send!({ type: 'stats', ready, responses, failures, rss: process.memoryUsage().rss });
  else if (m.cmd === 'exit') {
    for (const s of sessions) s.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
