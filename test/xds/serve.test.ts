// `xdsim serve` as a process: loads -f, serves, and on SIGTERM closes streams with a status.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import { API } from './fixtures.js';
import { node, SotwClient } from './helpers.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';

afterEach(killAll);

const MESH = `apiVersion: v1
kind: Service
metadata: { name: api, namespace: pay }
spec:
  selector: { app: api }
  ports: [{ name: grpc, port: 8080 }]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: api-a, namespace: pay, labels: { app: api } }
spec: { address: 10.0.0.1, locality: r1/z1/s1 }
`;

const serve = serveProcess;

describe('xdsim serve', () => {
  it('serves files given with -f and shuts down cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-serve-'));
    writeFileSync(join(dir, 'mesh.yaml'), MESH);
    const s = serve(['-f', dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--debounce-after', '10ms']);
    const p = await servingPorts(s);
    const ready = await fetch(`http://127.0.0.1:${p.admin}/ready`);
    expect(ready.status).toBe(200);
    const c = new SotwClient(p.xds);
    try {
      c.send({ node: node('cli'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
      const r = await c.recv(5000);
      expect(r.resources).toHaveLength(1);
      s.proc.kill('SIGTERM');
      const st = await c.status;
      expect(st.code).toBe(grpc.status.UNAVAILABLE);
      expect(await s.exited).toBe(0);
      expect(s.out()).toContain('shutting down');
    } finally {
      c.close();
    }
  });

  it('refuses to start on invalid config, naming file and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-serve-'));
    writeFileSync(join(dir, 'bad.yaml'), MESH.replace('address: 10.0.0.1', 'address: 10.0.0.1, weight: -1'));
    const s = serve(['-f', join(dir, 'bad.yaml'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0']);
    expect(await s.exited).toBe(2);
    expect(s.err()).toMatch(/bad\.yaml:\d+ \(document 2\) WorkloadEntry pay\/api-a spec\.weight/);
  });
});
