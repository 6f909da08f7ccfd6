// Sends generated admin requests with node:http (fetch would refuse some methods and headers),
// streaming big bodies from a repeated pattern so the client does not hold them.
import http from 'node:http';
import { adminCase, type AdminCase, type AdminGenOptions } from './admin-inputs.js';

export interface AdminFuzzOptions {
  host?: string;
  port: number;
  seed: number;
  inputs: number;
  concurrency?: number;
  timeoutMs?: number;
  gen: AdminGenOptions;
  onProgress?: (done: number) => void;
  progressEvery?: number;
}

export interface AdminFuzzResult {
  inputs: number;
  bytesSent: number;
  kinds: Record<string, number>;
  /** HTTP status codes, `reset` (connection closed before a response: expected past the body limit), `timeout`. */
  outcomes: Record<string, number>;
  outcomesByKind: Record<string, Record<string, number>>;
  durationMs: number;
}

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

export async function fuzzAdmin(opts: AdminFuzzOptions): Promise<AdminFuzzResult> {
  const result: AdminFuzzResult = { inputs: 0, bytesSent: 0, kinds: {}, outcomes: {}, outcomesByKind: {}, durationMs: 0 };
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const seq = next++;
      if (seq >= opts.inputs) return;
      const c = adminCase(opts.seed, seq, opts.gen);
      bump(result.kinds, c.kind);
      const { outcome, sent } = await send(opts.host ?? '127.0.0.1', opts.port, c, opts.timeoutMs ?? 20_000);
      result.bytesSent += sent;
      bump(result.outcomes, outcome);
      bump((result.outcomesByKind[c.kind] ??= {}), outcome);
      result.inputs++;
      if (opts.onProgress && result.inputs % (opts.progressEvery ?? 500) === 0) opts.onProgress(result.inputs);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  result.durationMs = performance.now() - t0;
  return result;
}

function send(host: string, port: number, c: AdminCase, timeoutMs: number): Promise<{ outcome: string; sent: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let settled = false;
    const finish = (outcome: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ outcome, sent });
    };
    const headers: Record<string, string | number> = { ...c.headers };
    const body = c.body;
    if (body && !Buffer.isBuffer(body) && body.declare) headers['content-length'] = body.bytes;
    else if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
    let req: http.ClientRequest;
    try {
      req = http.request({ host, port, method: c.method, path: c.path, headers, agent: false }, (res) => {
        res.on('data', () => {});
        res.on('end', () => finish(String(res.statusCode)));
        res.on('error', () => finish(String(res.statusCode)));
      });
    } catch {
      // Something node:http will not even send (an invalid header or path): not an input.
      resolve({ outcome: 'client-refused', sent: 0 });
      return;
    }
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    req.on('error', () => finish('reset'));
    if (!body) {
      req.end();
      return;
    }
    if (Buffer.isBuffer(body)) {
      sent = body.length;
      req.end(body);
      return;
    }
    // Streamed: 64 KiB chunks of the pattern, honouring backpressure, until the size or an error.
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = body.repeat[i % body.repeat.length]!;
    const pump = () => {
      while (sent < body.bytes && !settled) {
        const n = Math.min(chunk.length, body.bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!settled) req.end();
    };
    pump();
  });
}
