// The limit flags of `xdsim serve` reach the server (the real bin as a child process), and bad
// values stop the start with exit code 2 naming the flag.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSize } from '../../src/cli/serve.js';
import { FUZZ_MESH_YAML, FUZZ_NAMES } from '../../src/fuzz/mesh.js';
import { TYPE_URL } from '../../src/proto/index.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';
import { node, SotwClient } from '../xds/helpers.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const clients: SotwClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  killAll();
});

function meshFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-limits-'));
  writeFileSync(join(dir, 'mesh.yaml'), FUZZ_MESH_YAML);
  return join(dir, 'mesh.yaml');
}

const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);

describe('xdsim serve limit flags', () => {
  it('parseSize', () => {
    expect(parseSize('4MiB')).toBe(4 * 2 ** 20);
    expect(parseSize('512k')).toBe(512 * 1024);
    expect(parseSize('1.5m')).toBe(1.5 * 2 ** 20);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('lots')).toThrow(/invalid size/);
  });

  it('--max-message-size, --max-resource-names, --max-connections, --admin-max-body take effect', async () => {
    const s = serveProcess(['-f', meshFile(), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--max-message-size', '2KiB', '--max-resource-names', '10', '--max-connections', '3', '--admin-max-body', '1k']);
    const p = await servingPorts(s);
    const client = () => {
      const c = new SotwClient(p.xds);
      clients.push(c);
      return c;
    };
    const ok = client();
    ok.send({ node: node('ok'), type_url: TYPE_URL.ENDPOINT, resource_names: [FUZZ_NAMES.clusters[0]!] });
    expect((await ok.recv(5000)).resources).toHaveLength(1);

    const big = client();
    big.send({ node: node('big'), type_url: TYPE_URL.ENDPOINT, resource_names: ['x'.repeat(3000)] });
    expect((await within(big.status, 5000))?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const many = client();
    many.send({ node: node('many'), type_url: TYPE_URL.ENDPOINT, resource_names: Array.from({ length: 11 }, (_, i) => `n${i}`) });
    const st = await within(many.status, 5000);
    expect(st?.details).toContain('exceed the limit of 10');

    // Three connections are open (ok, big, many: a refused stream leaves its channel connected); a fourth is refused.
    const fourth = client();
    fourth.send({ node: node('fourth'), type_url: TYPE_URL.ENDPOINT, resource_names: [FUZZ_NAMES.clusters[0]!] });
    const refused = await within(fourth.status, 5000);
    expect(refused?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused?.details).toContain('connection limit reached (3 connections)');

    const body = await fetch(`http://127.0.0.1:${p.admin}/apply`, { method: 'POST', body: 'x'.repeat(2000) });
    expect(body.status).toBe(413);
  });

  it('bad values exit 2 naming the flag', async () => {
    for (const [flag, value, msg] of [
      ['--max-connections', 'lots', /--max-connections: "lots" is not a whole number/],
      ['--max-message-size', '4 parsecs', /--max-message-size: invalid size/],
      ['--keepalive-time', 'soon', /--keepalive-time: invalid duration/],
      ['--registration-burst', '0', /--registration-burst: "0" is out of range/],
    ] as const) {
      const s = serveProcess(['-f', meshFile(), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', flag, value]);
      expect(await s.exited, flag).toBe(2);
      expect(s.err(), flag).toMatch(msg);
    }
  });
});
