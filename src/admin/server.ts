// Admin HTTP on node:http: readiness, Prometheus metrics, debug views, config apply/delete.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ConfigStore } from '../config/store.js';
import { LogLimiter } from '../xds/log-limiter.js';
import type { XdsMetrics } from '../xds/metrics.js';
import type { XdsServer } from '../xds/server.js';
import { applyRequest, deleteRequest } from './config-requests.js';
import { adsz, configz, edsz, syncz } from './debug.js';

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
}

export const DEFAULT_ADMIN_LIMITS: AdminLimits = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxPendingBodyBytes: 32 * 1024 * 1024,
  maxYamlDepth: 100,
  maxYamlKeys: 5000,
  maxYamlDocuments: 50_000,
  maxErrorBytes: 64 * 1024,
});

export interface AdminServer {
  readonly port: number;
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

function readBody(req: http.IncomingMessage, max: number, budget: BodyBudget): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      // Answer without reading; the connection is closed after the response.
      reject(new HttpError(413, `body larger than ${max} bytes\n`));
      return;
    }
    if (declared > 0 && budget.pending + declared > budget.max) {
      reject(new HttpError(503, 'admin API busy receiving other bodies; retry shortly\n'));
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
      release();
      if (size > max) reject(new HttpError(413, `body larger than ${max} bytes\n`));
      else if (busy) reject(new HttpError(503, 'admin API busy receiving other bodies; retry shortly\n'));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      release();
      reject(err);
    });
    req.on('close', release);
  });
}

/**
 * A linear pre-scan for the YAML shapes that make the parser explode: it recurses per nesting
 * level and compares mapping keys pairwise, so `[[[[...` or a mapping with 100,000 keys costs
 * seconds to minutes and gigabytes. Approximate on purpose (plain scalars with quotes inside,
 * brackets in block scalars' first lines); it only has to be right near absurd sizes.
 * Returns the problem, naming the line, or undefined.
 */
export function yamlShapeProblem(text: string, maxDepth: number, maxKeys: number, maxDocuments = Infinity): string | undefined {
  type Level = { col: number; map: boolean; keys: number };
  const block: Level[] = [];
  const flow: { map: boolean; keys: number }[] = [];
  const budget = (maxKeys * maxKeys) / 2;
  let cost = 0;
  let quote = '';
  let scalarCol = -1; // inside a block scalar (| or >) owned by a key at this column
  let line = 0;
  let documents = 1;
  const addKey = (lv: { keys: number }) => {
    cost += lv.keys;
    lv.keys++;
    return lv.keys > maxKeys ? `a mapping with more than ${maxKeys} keys` : cost > budget ? `mappings too large in all to check for duplicate keys (as costly as one mapping of more than ${maxKeys} keys)` : undefined;
  };
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    let i = start;
    let problem: string | undefined;
    if (!quote && flow.length === 0) {
      while (i < end && text.charCodeAt(i) === 32) i++;
      const col = i - start;
      const blank = i >= end || text[i] === '#' || text[i] === '\r';
      if (scalarCol >= 0 && (blank || col > scalarCol)) {
        start = end + 1;
        continue;
      }
      scalarCol = -1;
      if (blank) {
        start = end + 1;
        continue;
      }
      if (text.startsWith('---', i) || text.startsWith('...', i)) {
        block.length = 0;
        if (col === 0 && text[i] === '-' && ++documents > maxDocuments) return `line ${line}: more than ${maxDocuments} documents`;
      }
      // Sequence entries ("- "), possibly several on one line ("- - - x").
      while (i < end && text[i] === '-' && (i + 1 === end || text[i + 1] === ' ')) {
        const c = i - start;
        while (block.length && block[block.length - 1]!.col > c) block.pop();
        const top = block[block.length - 1];
        if (!top || top.col !== c || top.map) block.push({ col: c, map: false, keys: 0 });
        i += 2;
        while (i < end && text.charCodeAt(i) === 32) i++;
      }
      // A mapping key: plain or quoted text, then ": " or ":" at the end of the line.
      const m = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)\s*:(?=\s|$)/.exec(text.slice(i, Math.min(end, i + 1024)));
      if (m) {
        const c = i - start;
        while (block.length && block[block.length - 1]!.col > c) block.pop();
        const top = block[block.length - 1];
        if (top && top.col === c && top.map) problem = addKey(top);
        else block.push({ col: c, map: true, keys: 1 });
        const rest = text.slice(i + m[0].length, end).trim();
        if (/^[|>][-+0-9]*(\s+#.*)?$/.test(rest)) scalarCol = c;
        i += m[0].length;
      }
    }
    // Flow collections and quotes, possibly spanning lines.
    for (; i < end && !problem; i++) {
      const ch = text[i]!;
      if (quote) {
        if (ch === '\\' && quote === '"') i++;
        else if (ch === quote) {
          if (quote === "'" && text[i + 1] === "'") i++;
          else quote = '';
        }
        continue;
      }
      const prev = i === start ? ' ' : text[i - 1]!;
      if (ch === '#' && (prev === ' ' || prev === '\t')) break;
      if ((ch === '"' || ch === "'") && ' \t[{,:'.includes(prev)) quote = ch;
      else if (ch === '[' || ch === '{') flow.push({ map: ch === '{', keys: 1 });
      else if (ch === ']' || ch === '}') flow.pop();
      else if (ch === ',' && flow.length && flow[flow.length - 1]!.map) problem = addKey(flow[flow.length - 1]!);
      if (block.length + flow.length > maxDepth) problem = `nesting deeper than ${maxDepth} levels`;
    }
    if (!problem && block.length + flow.length > maxDepth) problem = `nesting deeper than ${maxDepth} levels`;
    if (problem) return `line ${line}: ${problem}`;
    start = end + 1;
  }
  return undefined;
}

function isYamlInputError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name.startsWith('YAML') || (err instanceof ReferenceError && /alias/i.test(err.message));
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
        const text = await readBody(req, maxBody, budget);
        const shape = yamlShapeProblem(text, limits.maxYamlDepth, limits.maxYamlKeys, limits.maxYamlDocuments);
        if (shape) throw new HttpError(400, `request:${shape}; not parsed\n`);
        let r;
        try {
          r = url.pathname === '/apply' ? applyRequest(store, text) : deleteRequest(store, text);
        } catch (err) {
          // The YAML library throws (rather than reports) on some inputs, e.g. alias bombs: the body's fault, not ours.
          if (isYamlInputError(err)) throw new HttpError(400, `request: ${(err as Error).message}\n`);
          throw err;
        }
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `host:port`, `[v6]:port`, or `:port` (loopback). */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid address "${address}" (want host:port)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}
