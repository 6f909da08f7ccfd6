// Seeded generators of bad admin HTTP requests: invalid YAML, huge bodies (declared and chunked),
// deep nesting, alias bombs, wrong content types and encodings, wrong methods, odd paths and
// queries, oversized headers.
import { Rng } from '../topology/generate.js';
import { mutatedManifest, randomBytes, randomText } from './mutate.js';

export const ADMIN_CASE_KINDS = [
  'invalid-yaml',
  'valid-yaml',
  'huge-body',
  'huge-chunked',
  'big-garbage',
  'deep-nesting',
  'alias-bomb',
  'many-documents',
  'wrong-content-type',
  'bad-encoding',
  'wrong-method',
  'odd-path',
  'bad-query',
  'huge-headers',
  'binary-body',
] as const;
export type AdminCaseKind = (typeof ADMIN_CASE_KINDS)[number];

export interface AdminCase {
  seq: number;
  kind: AdminCaseKind;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The body, or a size to stream (a repeated pattern) without holding it in memory. */
  body?: Buffer | { repeat: Buffer; bytes: number; declare: boolean };
}

export interface AdminGenOptions {
  /** The server's body limit: huge bodies go past it. */
  maxBodyBytes: number;
  /** Share of the costly cases (multi-MiB bodies); 1 = as designed. */
  heavy: number;
}

const PATHS = ['/apply', '/delete', '/ready', '/metrics', '/debug/adsz', '/debug/syncz', '/debug/edsz', '/debug/configz'];
const VALID = (i: number) =>
  `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: fuzz-admin-${i}\n  namespace: fuzz-admin\nspec:\n  address: 10.77.${(i >> 8) & 255}.${i & 255}\n`;

/** Random text, percent-encoded (lone surrogates become U+FFFD first: encodeURIComponent throws on them). */
function uriText(rng: Rng, n: number): string {
  return encodeURIComponent(Buffer.from(randomText(rng, n), 'utf8').toString('utf8'));
}

function pickKind(rng: Rng, heavy: number): AdminCaseKind {
  const weights: [AdminCaseKind, number][] = [
    ['invalid-yaml', 25],
    ['valid-yaml', 3],
    ['deep-nesting', 6],
    ['alias-bomb', 4],
    ['wrong-content-type', 8],
    ['bad-encoding', 4],
    ['wrong-method', 10],
    ['odd-path', 8],
    ['bad-query', 8],
    ['huge-headers', 3],
    ['binary-body', 6],
    ['many-documents', 2 * heavy],
    ['huge-body', 2 * heavy],
    ['huge-chunked', 1 * heavy],
    ['big-garbage', 1 * heavy],
  ];
  return rng.weighted(weights, 'invalid-yaml');
}

function post(path: string, body: Buffer | string, headers: Record<string, string> = {}): Omit<AdminCase, 'seq' | 'kind'> {
  return { method: 'POST', path, headers, body: typeof body === 'string' ? Buffer.from(body) : body };
}

export function adminCase(seed: number, seq: number, opts: AdminGenOptions): AdminCase {
  const rng = new Rng((seed ^ Math.imul(seq + 3, 0xc2b2ae35)) >>> 0);
  const kind = pickKind(rng, opts.heavy);
  const target = () => rng.pick(['/apply', '/apply', '/delete']);
  let c: Omit<AdminCase, 'seq' | 'kind'>;
  switch (kind) {
    case 'invalid-yaml':
      c = post(target(), mutatedManifest(rng), rng.chance(0.5) ? { 'content-type': 'application/yaml' } : {});
      break;
    case 'valid-yaml':
      c = post(rng.chance(0.7) ? '/apply' : '/delete', VALID(rng.int(0, 200)), { 'content-type': 'application/yaml' });
      break;
    case 'huge-body':
      c = { method: 'POST', path: target(), headers: {}, body: { repeat: Buffer.from('a: b\n'), bytes: opts.maxBodyBytes + rng.int(1, opts.maxBodyBytes), declare: true } };
      break;
    case 'huge-chunked':
      // No content-length: the limit has to hold while reading.
      c = { method: 'POST', path: target(), headers: {}, body: { repeat: Buffer.from('- x\n'), bytes: opts.maxBodyBytes + rng.int(1, 1 << 20), declare: false } };
      break;
    case 'big-garbage':
      // Under the limit, but megabytes for the YAML parser to chew on.
      c = { method: 'POST', path: target(), headers: {}, body: { repeat: Buffer.from(rng.pick(['a: [', '{a: ', '- ', 'k: v\n', '"\\', '&a x\n'])), bytes: rng.int(1 << 20, Math.max(1 << 20, Math.floor(opts.maxBodyBytes * 0.9))), declare: rng.chance(0.5) } };
      break;
    case 'deep-nesting': {
      const depth = rng.int(100, 200_000);
      const form = rng.int(0, 3);
      const body =
        form === 0
          ? `spec: ${'['.repeat(depth)}${']'.repeat(rng.chance(0.5) ? depth : 0)}`
          : form === 1
            ? `spec: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`
            : form === 2
              ? Array.from({ length: Math.min(depth, 5000) }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')
              : `${'- '.repeat(Math.min(depth, 20_000))}x`;
      c = post(target(), `apiVersion: v1\nkind: Service\nmetadata: {name: deep, namespace: fuzz}\n${body}\n`);
      break;
    }
    case 'alias-bomb': {
      // Billion laughs: each level refers to the previous one ten times.
      const levels = rng.int(3, 12);
      let text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
      for (let i = 1; i < levels; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]\n`;
      c = post(target(), `apiVersion: v1\nkind: Service\nmetadata: {name: bomb, namespace: fuzz}\nspec:\n  ${text.replaceAll('\n', '\n  ')}`);
      break;
    }
    case 'many-documents':
      c = post(target(), rng.pick(['---\n', '--- {}\n', '--- x\n', `---\n${VALID(1)}`]).repeat(rng.int(1000, 200_000)));
      break;
    case 'wrong-content-type':
      c = post(
        target(),
        rng.pick([mutatedManifest(rng), VALID(rng.int(0, 50)), JSON.stringify({ kind: 'Service', a: [1, 2] }), '--boundary\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n--boundary--']),
        { 'content-type': rng.pick(['application/json', 'multipart/form-data; boundary=boundary', 'application/x-www-form-urlencoded', 'image/png', 'text/html; charset=utf-16', 'application/grpc', '', ';;;', randomText(rng, 40).replace(/[^\x20-\x7e]/g, '?')]) },
      );
      break;
    case 'bad-encoding':
      c = post(target(), Buffer.from(randomBytes(rng, rng.int(0, 500))), { 'content-encoding': rng.pick(['gzip', 'br', 'deflate', 'x-garbage']) });
      break;
    case 'wrong-method': {
      const method = rng.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'POST', 'PROPFIND', 'BREW']);
      const path = rng.pick(PATHS);
      c = method === 'GET' || method === 'HEAD' ? { method, path: rng.pick(['/apply', '/delete']), headers: {} } : { method, path: path === '/apply' || path === '/delete' ? (method === 'POST' ? '/metrics' : path) : path, headers: {}, body: Buffer.from('x: y\n') };
      break;
    }
    case 'odd-path':
      c = {
        method: rng.pick(['GET', 'POST']),
        path: rng.pick([
          '/../../etc/passwd',
          '//apply',
          '/apply/',
          '/APPLY',
          '/debug/',
          '/debug/adsz/../syncz',
          `/${uriText(rng, rng.int(1, 100))}`,
          `/${'a'.repeat(rng.int(100, 6000))}`,
          '/%00',
          '/%zz',
          '*',
        ]),
        headers: {},
      };
      break;
    case 'bad-query': {
      const path = rng.pick(['/debug/edsz', '/debug/configz', '/debug/adsz', '/metrics', '/ready']);
      const v = () => rng.pick([uriText(rng, rng.int(0, 200)), '%zz', 'a'.repeat(rng.int(1, 4000)), '', '*']);
      c = { method: 'GET', path: `${path}?${rng.pick(['proxyID', 'cluster', 'kind', 'namespace', randomText(rng, 5).replace(/[^a-z]/gi, 'q')])}=${v()}&${rng.pick(['cluster', 'namespace'])}=${v()}${rng.chance(0.2) ? '&&&=&' : ''}`, headers: {} };
      break;
    }
    case 'huge-headers':
      // Past Node's 16 KiB header limit: answered (431) by the HTTP parser, before any route.
      c = { method: 'GET', path: '/ready', headers: { 'x-fuzz': 'h'.repeat(rng.int(17_000, 64_000)) } };
      break;
    case 'binary-body':
      c = post(target(), Buffer.from(randomBytes(rng, rng.int(1, 8192))), rng.chance(0.5) ? { 'content-type': 'application/octet-stream' } : {});
      break;
  }
  return { seq, kind, ...c };
}
