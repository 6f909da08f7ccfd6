// Sends generated xDS garbage at a server: gRPC cases through grpc-js with an identity (raw
// Buffer) serializer, so every byte string goes out as one gRPC message; raw cases through
// node:http2 and node:net for what grpc-js would never send (bad framing, compression lies,
// reset floods, non-HTTP/2 bytes). Records what the client saw, per case kind.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Rng } from '../topology/generate.js';
import { randomBytes } from './mutate.js';
import { rawCase, xdsCase, XDS_METHOD_PATH, type RawCase, type XdsCase, type XdsGenOptions } from './xds-inputs.js';

export interface XdsFuzzOptions {
  host?: string;
  port: number;
  seed: number;
  inputs: number;
  /** Streams in flight at once. */
  concurrency?: number;
  /** HTTP/2 connections the gRPC cases share. */
  channels?: number;
  /** A stream still open after this long is cancelled (counted as `timeout`). */
  streamTimeoutMs?: number;
  /** Cases over 256 KiB in flight at once (default 4). */
  bigInFlight?: number;
  /** Share of inputs that are raw HTTP/2 / TCP cases. */
  rawShare?: number;
  gen: XdsGenOptions;
  /** Called every `progressEvery` inputs. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
}

export interface XdsFuzzResult {
  inputs: number;
  messages: number;
  bytes: number;
  /** Cases per kind. */
  kinds: Record<string, number>;
  /** What the client saw: gRPC status names, `timeout`, or raw outcomes (`raw:closed`, ...). */
  outcomes: Record<string, number>;
  /** Status codes per kind, to tell which input drew which answer. */
  outcomesByKind: Record<string, Record<string, number>>;
  durationMs: number;
}

const identity = (b: Buffer): Buffer => b;

function bump(m: Record<string, number>, k: string, n = 1): void {
  m[k] = (m[k] ?? 0) + n;
}

export async function fuzzXds(opts: XdsFuzzOptions): Promise<XdsFuzzResult> {
  const host = opts.host ?? '127.0.0.1';
  const target = `${host}:${opts.port}`;
  const channelCount = opts.channels ?? 8;
  const timeoutMs = opts.streamTimeoutMs ?? 3000;
  const rawShare = opts.rawShare ?? 0.05;
  const clients = Array.from(
    { length: channelCount },
    () =>
      new grpc.Client(target, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_send_message_length': -1,
        'grpc.max_receive_message_length': -1,
        'grpc.enable_retries': 0,
        'grpc.enable_channelz': 0,
      }),
  );
  const result: XdsFuzzResult = { inputs: 0, messages: 0, bytes: 0, kinds: {}, outcomes: {}, outcomesByKind: {}, durationMs: 0 };
  const t0 = performance.now();
  const record = (kind: string, outcome: string) => {
    bump(result.outcomes, outcome);
    bump((result.outcomesByKind[kind] ??= {}), outcome);
  };

  // Multi-MiB cases go a few at a time: dozens at once only measure HTTP/2 flow control
  // (64 KiB windows) on a busy loop, and time out on the client.
  const bigSlots = new Semaphore(opts.bigInFlight ?? 4);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const seq = next++;
      if (seq >= opts.inputs) return;
      // Raw cases are picked by their own stream of numbers so the gRPC cases stay reproducible.
      const raw = (Math.imul(seq + 1, 2654435761) >>> 0) / 2 ** 32 < rawShare;
      if (raw) {
        const c = rawCase(opts.seed, seq);
        bump(result.kinds, c.kind);
        record(c.kind, await runRaw(host, opts.port, c, timeoutMs));
      } else {
        const c = xdsCase(opts.seed, seq, opts.gen);
        bump(result.kinds, c.kind);
        let bytes = 0;
        for (const m of c.messages) bytes += m.length;
        result.messages += c.messages.length;
        result.bytes += bytes;
        const big = bytes > 256 * 1024;
        if (big) await bigSlots.acquire();
        try {
          record(c.kind, await runStream(clients[seq % clients.length]!, c, timeoutMs));
        } finally {
          if (big) bigSlots.release();
        }
      }
      result.inputs++;
      if (opts.onProgress && result.inputs % (opts.progressEvery ?? 1000) === 0) opts.onProgress(result.inputs);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 32 }, worker));
  for (const c of clients) c.close();
  result.durationMs = performance.now() - t0;
  return result;
}

class Semaphore {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.free++;
  }
}

/** One gRPC case: write its messages, finish as it says, resolve with the status the client got. */
function runStream(client: grpc.Client, c: XdsCase, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let timedOut = false;
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(XDS_METHOD_PATH[c.method], identity, identity, new grpc.Metadata());
    // Megabytes take a while through HTTP/2 flow control on a busy loop, and grpc-js hands a
    // server one message per turn: allow 2 s per MiB and 5 ms per message.
    let bytes = 0;
    for (const m of c.messages) bytes += m.length;
    const timer = setTimeout(() => {
      timedOut = true;
      call.cancel();
    }, timeoutMs + (bytes / 1048576) * 2000 + c.messages.length * 5);
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', (s: grpc.StatusObject) => {
      clearTimeout(timer);
      resolve(timedOut ? 'timeout' : (grpc.status[s.code] ?? String(s.code)));
    });
    for (const m of c.messages) call.write(m);
    if (c.finish === 'end') call.end();
    else setTimeout(() => call.cancel(), c.finish === 'cancel' ? 10 : 300);
  });
}

// ---- raw cases ------------------------------------------------------------------------------

function frame(msg: Buffer, compressed = 0, declaredLength = msg.length): Buffer {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt8(compressed, 0);
  f.writeUInt32BE(declaredLength >>> 0, 1);
  msg.copy(f, 5);
  return f;
}

const GRPC_HEADERS = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' };

function runRaw(host: string, port: number, c: RawCase, timeoutMs: number): Promise<string> {
  if (c.kind === 'tcp-garbage' || c.kind === 'tcp-silent') return runTcp(host, port, c, timeoutMs);
  return new Promise((resolve) => {
    const session = http2.connect(`http://${host}:${port}`);
    let settled = false;
    const done = (outcome: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    session.on('error', () => done('raw:session-error'));
    session.on('goaway', () => {});
    const rng = c.rng;
    const open = (headers: Record<string, string> = {}) => {
      const s = session.request({ ...GRPC_HEADERS, ':path': c.path, ...headers });
      s.on('error', () => {});
      s.on('data', () => {});
      return s;
    };
    /** Resolves with the grpc-status the server put in headers or trailers, else how the stream ended. */
    const outcomeOf = (s: http2.ClientHttp2Stream) => {
      let status: string | undefined;
      // A status settles the case at once: the server may answer while our half stays open.
      const read = (h: http2.IncomingHttpHeaders) => {
        const v = h['grpc-status'];
        if (v !== undefined) done(grpc.status[Number(v)] ?? String(v));
        else if (h[':status'] !== undefined && Number(h[':status']) !== 200) status = `http-${String(h[':status'])}`;
      };
      s.on('response', read);
      s.on('trailers', read);
      s.on('close', () => done(status ?? `raw:rst-${s.rstCode}`));
    };
    switch (c.kind) {
      case 'h2-compressed-flag': {
        // Compressed flag set, no grpc-encoding header.
        const s = open();
        outcomeOf(s);
        s.end(frame(Buffer.from(randomBytes(rng, rng.int(0, 100))), 1));
        break;
      }
      case 'h2-short-frame': {
        // Declares more bytes than it sends, then half-closes.
        const s = open();
        outcomeOf(s);
        const body = Buffer.from(randomBytes(rng, rng.int(0, 50)));
        s.end(frame(body, 0, body.length + rng.int(1, 10_000)));
        break;
      }
      case 'h2-huge-length': {
        // A length prefix of up to 4 GiB: must be refused from the prefix, not buffered.
        const s = open();
        outcomeOf(s);
        s.write(frame(Buffer.alloc(0), 0, rng.int(17 * 1024 * 1024, 2 ** 32 - 1)));
        s.write(Buffer.alloc(rng.int(0, 65_536), 0x41));
        break;
      }
      case 'h2-gzip-garbage': {
        const s = open({ 'grpc-encoding': 'gzip' });
        outcomeOf(s);
        s.end(frame(Buffer.from(randomBytes(rng, rng.int(1, 500))), 1));
        break;
      }
      case 'h2-gzip-bomb': {
        // 64 MiB of zeros in ~64 KiB: decompression must stop at the receive limit.
        const s = open({ 'grpc-encoding': 'gzip' });
        outcomeOf(s);
        s.end(frame(bomb(), 1));
        break;
      }
      case 'h2-unknown-encoding': {
        const s = open({ 'grpc-encoding': rng.pick(['br', 'zstd', 'snappy', 'x-garbage']) });
        outcomeOf(s);
        s.end(frame(Buffer.from(randomBytes(rng, 20)), 1));
        break;
      }
      case 'h2-bad-headers': {
        const variants: Record<string, string>[] = [
          { 'content-type': 'text/plain' },
          { 'content-type': 'application/json' },
          { ':method': 'GET' },
          { ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/NoSuchMethod' },
          { ':path': `/${'x'.repeat(rng.int(1, 4000))}` },
          { 'grpc-timeout': rng.pick(['garbage', '99999999999H', '-1S', '0m']) },
          { authorization: `Bearer ${'a'.repeat(rng.int(0, 8000))}` },
          { 'grpc-encoding': '' },
        ];
        let s: http2.ClientHttp2Stream;
        try {
          s = open(rng.pick(variants));
        } catch {
          done('raw:client-refused');
          return;
        }
        outcomeOf(s);
        s.end(frame(Buffer.from(randomBytes(rng, 10))));
        break;
      }
      case 'h2-rst': {
        // Half a message, then RST_STREAM.
        const s = open();
        s.on('close', () => done('raw:reset-by-client'));
        s.write(frame(Buffer.from(randomBytes(rng, 100)), 0, 1000), () => s.close(http2.constants.NGHTTP2_CANCEL));
        break;
      }
      case 'h2-rapid-reset': {
        // Open and reset many streams back to back (CVE-2023-44487's pattern).
        const n = rng.int(50, 400);
        let closed = 0;
        for (let i = 0; i < n; i++) {
          let s: http2.ClientHttp2Stream;
          try {
            s = open();
          } catch {
            done('raw:refused');
            return;
          }
          s.on('close', () => {
            if (++closed === n) done('raw:reset-flood-done');
          });
          s.close(http2.constants.NGHTTP2_CANCEL);
        }
        break;
      }
    }
  });
}

let bombBytes: Buffer | undefined;
function bomb(): Buffer {
  return (bombBytes ??= gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }));
}

function runTcp(host: string, port: number, c: RawCase, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, host);
    let settled = false;
    const done = (o: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done(c.kind === 'tcp-silent' ? 'raw:silent-done' : 'timeout'), c.kind === 'tcp-silent' ? Math.min(timeoutMs, 200) : timeoutMs);
    sock.on('error', () => done('raw:tcp-error'));
    sock.on('close', () => done('raw:closed'));
    sock.on('data', () => {});
    if (c.kind === 'tcp-garbage') {
      sock.on('connect', () => {
        const rng: Rng = c.rng;
        // Sometimes a valid HTTP/2 preface first, so the garbage reaches the frame parser.
        if (rng.chance(0.5)) sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        sock.write(Buffer.from(randomBytes(rng, rng.int(1, 4096))));
      });
    }
  });
}
