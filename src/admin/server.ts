// Admin HTTP on node:http: readiness, Prometheus metrics, debug views, config apply/delete.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ConfigStore } from '../config/store.js';
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
  /** Largest accepted request body (default 16 MiB). */
  maxBodyBytes?: number;
  /** When set, every endpoint but /ready needs `authorization: Bearer <token>`. */
  token?: string;
}

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

function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      // Answer without reading; the connection is closed after the response.
      reject(new HttpError(413, `body larger than ${max} bytes\n`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Past the limit keep reading (so the client sees the 413) but keep nothing.
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => (size > max ? reject(new HttpError(413, `body larger than ${max} bytes\n`)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
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
  const maxBody = opts.maxBodyBytes ?? 16 * 1024 * 1024;

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
        return send(res, r.status, r.body);
      }
      case '/debug/configz': {
        if (!get) throw new HttpError(405, 'GET only\n');
        const r = configz(store, url.searchParams.get('kind'), url.searchParams.get('namespace'));
        return send(res, r.status, r.body);
      }
      case '/apply':
      case '/delete': {
        if (method !== 'POST') throw new HttpError(405, 'POST only\n');
        const text = await readBody(req, maxBody);
        const r = url.pathname === '/apply' ? applyRequest(store, text) : deleteRequest(store, text);
        if (r.status >= 400) {
          metrics.configRejected.inc({ endpoint: url.pathname.slice(1) });
          log.info({ endpoint: url.pathname, status: r.status }, 'config request rejected');
        }
        return send(res, r.status, r.body);
      }
      default:
        throw new HttpError(404, 'not found\n');
    }
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      metrics.adminRejected.inc({ reason: String(status) });
      if (status === 500) log.error({ err, url: req.url }, 'admin request failed');
      if (status === 413) res.setHeader('connection', 'close');
      if (!res.headersSent) send(res, status, err instanceof HttpError ? err.message : 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
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
