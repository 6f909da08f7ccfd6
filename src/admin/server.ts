// Admin HTTP on node:http: readiness, Prometheus metrics, debug views, config apply/delete.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ConfigStore } from '../config/store.js';
import { LogLimiter } from '../xds/stream/log-limiter.js';
import type { XdsMetrics } from '../xds/metrics/xds-metrics.js';
import type { XdsServer } from '../xds/server.js';
import { commitPrepared, prepareConfigRequest, type ConfigRequestKind, type ConfigRequestResult, type YamlShapeLimits } from './config-requests.js';
import { adsz, configz, edsz, syncz } from './debug.js';
import { ParseThread, ParseThreadError } from './parse-thread.js';

export { yamlShapeProblem } from './yaml-shape.js';

export interface AdminOptions {
  store: ConfigStore;
  xds: XdsServer;
  metrics: XdsMetrics;
  log: Logger;
  ready: () => boolean;
  /** Shorthand for limits.maxBodyBytes. */
  maxBodyBytes?: number;
  limits?: Partial<AdminLimits>;
  /** When set, every endpoint but /ready needs `authorization: Bearer <token>`. */
  token?: string;
}

export interface AdminLimits {
  /** Largest request body; larger ones get 413. */
  maxBodyBytes: number;
  /** Body bytes being received across all requests at once; past it, 503 with Retry-After. */
  maxPendingBodyBytes: number;
  /** Deepest YAML nesting accepted (flow brackets, block levels); the parser recurses. */
  maxYamlDepth: number;
  /**
   * Largest YAML mapping, in keys. The parser checks keys pairwise, so cost grows with the
   * square: a body may hold one mapping this big, or smaller ones whose squares add up to as much.
   */
  maxYamlKeys: number;
  /** Most YAML documents in one body: each costs the parser kilobytes, whatever it holds. */
  maxYamlDocuments: number;
  /** Longest error listing sent back (bytes); the rest is summarised. */
  maxErrorBytes: number;
  /**
   * Bodies up to this size (bytes) are parsed on the main thread; bigger ones on the config
   * parser thread, so xDS keeps being served meanwhile. 0: every body goes to the thread.
   */
  inlineParseBytes: number;
  /** Longest a body may take on the parser thread; past it the thread is terminated and the request gets 503. */
  parseTimeoutMs: number;
}

export const DEFAULT_ADMIN_LIMITS: AdminLimits = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxPendingBodyBytes: 32 * 1024 * 1024,
  maxYamlDepth: 100,
  maxYamlKeys: 5000,
  maxYamlDocuments: 50_000,
  maxErrorBytes: 64 * 1024,
  // Parsing costs ~1.2 ms per KiB (2-core machine): 32 KiB holds the loop ~40 ms. Below that the
  // thread buys little and its cold start (1.5-3 s: tsx, TypeBox, Ajv compile) would only delay
  // the answer; above it the hand-off (a string copy out, plain data back) is cheap next to parsing.
  inlineParseBytes: 32 * 1024,
  parseTimeoutMs: 60_000,
});

export interface AdminServer {
  readonly port: number;
  /** Config requests (/apply, /delete) received in full and not answered yet: queued, parsing or committing. */
  readonly configRequestsPending: number;
  /** The config parser thread: whether a body is on it, how many threads were started. */
  readonly parser: { readonly busy: boolean; readonly started: number };
  /** Fault injection: terminates the config parser thread as a crash would. False if none runs. */
  killParser(): Promise<boolean>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, contentType?: string): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': contentType ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json') });
  res.end(text);
}

/** Body bytes held by requests being read, shared by one server's requests. */
interface BodyBudget {
  pending: number;
  readonly max: number;
}

/**
 * A body read in full. Its bytes stay counted in the budget until `release()`: a body waiting
 * for its turn, or being parsed, still holds memory.
 */
interface Body {
  text: string;
  bytes: number;
  release(): void;
}

function readBody(req: http.IncomingMessage, max: number, budget: BodyBudget): Promise<Body> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      // Answer without reading; the connection is closed after the response.
      reject(new HttpError(413, `body larger than ${max} bytes\n`));
      return;
    }
    if (declared > 0 && budget.pending + declared > budget.max) {
      reject(new HttpError(503, 'admin API busy with other bodies; retry shortly\n'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let held = 0;
    let busy = false;
    const release = () => {
      budget.pending -= held;
      held = 0;
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Past a limit keep reading (so the client sees the answer) but keep nothing.
      if (size > max || busy) return release();
      if (budget.pending + c.length > budget.max) {
        busy = true;
        return release();
      }
      budget.pending += c.length;
      held += c.length;
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > max || busy) {
        release();
        reject(size > max ? new HttpError(413, `body larger than ${max} bytes\n`) : new HttpError(503, 'admin API busy with other bodies; retry shortly\n'));
        return;
      }
      // Handed over to the caller, who releases it once done; the 'close' listener no longer does.
      let kept = held;
      held = 0;
      resolve({
        text: Buffer.concat(chunks).toString('utf8'),
        bytes: size,
        release: () => {
          budget.pending -= kept;
          kept = 0;
        },
      });
    });
    req.on('error', (err) => {
      release();
      reject(err);
    });
    req.on('close', release);
  });
}

/** Caps an error listing at `max` bytes, at a line boundary, saying how much was left out. */
function capErrors(body: string, max: number): string {
  if (body.length <= max) return body;
  const cut = body.lastIndexOf('\n', max);
  const kept = body.slice(0, cut > 0 ? cut + 1 : max);
  let rest = 0;
  for (let i = kept.length; i < body.length; i++) if (body.charCodeAt(i) === 10) rest++;
  return `${kept}... and ${rest} more line(s)\n`;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startAdmin(address: string, opts: AdminOptions): Promise<AdminServer> {
  const { store, xds, metrics, log } = opts;
  const limits: AdminLimits = { ...DEFAULT_ADMIN_LIMITS, ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}), ...(opts.limits ?? {}) };
  const maxBody = limits.maxBodyBytes;
  // At least one whole body, or a raised body limit would turn every big body away as "busy".
  const budget: BodyBudget = { pending: 0, max: Math.max(limits.maxPendingBodyBytes, maxBody) };
  // Rejections are logged once per kind per minute, like xDS ones: a script gone wrong must not flood the log.
  const limiter = new LogLimiter(log);
  const shapeLimits: YamlShapeLimits = { maxYamlDepth: limits.maxYamlDepth, maxYamlKeys: limits.maxYamlKeys, maxYamlDocuments: limits.maxYamlDocuments };
  const parser = new ParseThread({ timeoutMs: limits.parseTimeoutMs });
  let closed = false;
  // Config requests run one at a time, in the order their bodies arrived in full: applies A then B
  // commit A then B, whether each was parsed here or on the parser thread.
  let turn: Promise<unknown> = Promise.resolve();
  let configPending = 0;

  /** Parses (here when small, else on the parser thread) and commits one body, in its turn. */
  function configRequest(kind: ConfigRequestKind, body: Body): Promise<ConfigRequestResult> {
    configPending++;
    const run = turn.then(async () => {
      if (closed) throw new HttpError(503, 'admin server shutting down\n');
      let prepared;
      if (body.bytes <= limits.inlineParseBytes) {
        prepared = prepareConfigRequest(kind, body.text, shapeLimits);
      } else {
        try {
          prepared = await parser.run(kind, body.text, shapeLimits);
        } catch (err) {
          if (err instanceof ParseThreadError) throw new HttpError(err.status, err.message);
          throw err;
        }
        // Receiving the result (deserialising it) was one event-loop task; committing is another:
        // let xDS run in between.
        await new Promise((resolve) => setImmediate(resolve));
        // Closed while the body was parsed: the store may be going away with the server.
        if (closed) throw new HttpError(503, 'admin server shutting down\n');
      }
      if (prepared.kind === 'refused') throw new HttpError(400, prepared.message);
      if (prepared.kind === 'invalid') return { status: 400, body: prepared.body };
      // The only part on the main thread for a big body: one store batch.
      return commitPrepared(store, prepared);
    });
    turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      configPending--;
      body.release();
    });
  }

  /** A debug answer; a 4xx one (unknown proxy, bad kind) is a refusal too and counted as such. */
  function answer(res: http.ServerResponse, status: number, body: unknown): void {
    if (status >= 400) metrics.adminRejected.inc({ reason: String(status) });
    send(res, status, body);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (opts.token && url.pathname !== '/ready' && !bearerMatches(req.headers.authorization, opts.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new HttpError(401, req.headers.authorization ? 'wrong admin token\n' : 'admin token required: send "authorization: Bearer <token>"\n');
    }
    switch (url.pathname) {
      case '/ready':
        if (!get) throw new HttpError(405, 'GET only\n');
        return opts.ready() ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n');
      case '/metrics':
        if (!get) throw new HttpError(405, 'GET only\n');
        return send(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
      case '/debug/adsz':
        if (!get) throw new HttpError(405, 'GET only\n');
        return send(res, 200, adsz(xds));
      case '/debug/syncz':
        if (!get) throw new HttpError(405, 'GET only\n');
        return send(res, 200, syncz(xds));
      case '/debug/edsz': {
        if (!get) throw new HttpError(405, 'GET only\n');
        const r = edsz(xds, url.searchParams.get('proxyID'), url.searchParams.get('cluster'));
        return answer(res, r.status, r.body);
      }
      case '/debug/configz': {
        if (!get) throw new HttpError(405, 'GET only\n');
        const r = configz(store, url.searchParams.get('kind'), url.searchParams.get('namespace'));
        return answer(res, r.status, r.body);
      }
      case '/apply':
      case '/delete': {
        if (method !== 'POST') throw new HttpError(405, 'POST only\n');
        const encoding = req.headers['content-encoding'];
        if (encoding && encoding !== 'identity') throw new HttpError(415, `content-encoding "${encoding.slice(0, 50)}" not supported: send plain YAML\n`);
        const r = await configRequest(url.pathname === '/apply' ? 'apply' : 'delete', await readBody(req, maxBody, budget));
        if (r.status >= 400) {
          metrics.configRejected.inc({ endpoint: url.pathname.slice(1) });
          limiter.warn(`config-${url.pathname.slice(1)}`, { endpoint: url.pathname, status: r.status }, 'config request rejected');
        }
        return send(res, r.status, typeof r.body === 'string' && r.status >= 400 ? capErrors(r.body, limits.maxErrorBytes) : r.body);
      }
      default:
        throw new HttpError(404, 'not found\n');
    }
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      metrics.adminRejected.inc({ reason: String(status) });
      if (status === 500) limiter.warn('admin-500', { err: err instanceof Error ? err.stack : String(err), url: req.url?.slice(0, 200) }, 'admin request failed');
      else limiter.warn(`admin-${status}`, { status, method: req.method, url: req.url?.slice(0, 200) }, 'admin request refused');
      if (status === 413) res.setHeader('connection', 'close');
      if (status === 503) res.setHeader('retry-after', '1');
      if (!res.headersSent) send(res, status, err instanceof HttpError ? err.message : 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  // Requests the HTTP parser refuses (headers past 16 KiB, bad syntax, timeouts) never reach the
  // router: answer and count them here too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    metrics.adminRejected.inc({ reason: String(status) });
    limiter.warn(`admin-${status}`, { status, code: err.code }, 'admin request refused by the HTTP parser');
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ address: `${host}:${bound}` }, 'admin HTTP listening');
  return {
    port: bound,
    get configRequestsPending() {
      return configPending;
    },
    parser,
    killParser: () => parser.kill(),
    close: async () => {
      closed = true;
      await Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        parser.close(),
      ]);
    },
  };
}

/** `host:port`, `[v6]:port`, or `:port` (loopback). */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid address "${address}" (want host:port)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}
