// The CLI as users run it: a real process, its stdout, stderr and exit code.
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/xdsim.js');
const C = 'outbound|9080||reviews.pay.svc.cluster.local';

function xdsim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('xdsim eds / lb', () => {
  it('eds -o json prints the canonical JSON of the ClusterLoadAssignment', async () => {
    const r = await xdsim(['eds', '-f', 'examples/mesh', '--cluster', C, '--node-locality', 'us-east/us-east-1a/rack1', '-o', 'json']);
    expect(r.code).toBe(0);
    const cla = JSON.parse(r.stdout);
    expect(cla.clusterName).toBe(C);
    expect(cla.endpoints[0].locality).toEqual({ region: 'us-east', zone: 'us-east-1a', subZone: 'rack1' });
    expect(cla.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress).toEqual({ address: '10.10.1.11', portValue: 9080 });
    expect(cla.endpoints.map((e: { priority?: number }) => e.priority ?? 0)).toEqual([0, 1, 2]);
  });

  it('lb -o json gives shares that sum to 1, all in the proxy locality when healthy', async () => {
    const r = await xdsim(['lb', '-f', 'examples/mesh', '--cluster', C, '--node-locality', 'us-east/us-east-1a/rack1', '-o', 'json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    const total = s.endpoints.reduce((a: number, e: { share: number }) => a + e.share, 0);
    expect(total).toBeCloseTo(1, 9);
    for (const e of s.endpoints) if (e.locality !== 'us-east/us-east-1a/rack1') expect(e.share).toBe(0);
    expect(s.endpoints[0]).toMatchObject({ address: '10.10.1.11:9080', locality: 'us-east/us-east-1a/rack1', priority: 0 });
  });

  it('--mesh-networks: lb sees another network through its gateway as one host; a bad file is exit 2 with file:line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-cli-mn-'));
    const mesh = join(dir, 'mesh.yaml');
    const we = (name: string, address: string, network: string, locality: string) =>
      `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${name}, namespace: pay}\nspec: {address: ${address}, network: ${network}, locality: ${locality}, serviceAccount: sa, labels: {app: a}}\n`;
    writeFileSync(
      mesh,
      [
        'apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: pay}\nspec:\n  selector: {app: a}\n  ports: [{name: http, port: 80}]\n',
        we('c1', '10.0.0.1', 'cluster', 'r1/z1'),
        we('v1', '10.1.0.1', 'vm', 'r2/z1'),
        we('v2', '10.1.0.2', 'vm', 'r2/z1'),
        we('v3', '10.1.0.3', 'vm', 'r2/z1'),
      ].join('---\n'),
    );
    const networks = join(dir, 'networks.yaml');
    writeFileSync(networks, 'networks:\n  vm:\n    gateways:\n    - {address: 192.0.2.7, port: 15443}\n');
    const args = ['lb', '-f', mesh, '--cluster', 'outbound|80||a.pay.svc.cluster.local', '--node-network', 'cluster', '-o', 'json'];
    const r = await xdsim([...args, '--mesh-networks', networks]);
    expect(r.code).toBe(0);
    const shares = JSON.parse(r.stdout).endpoints.map((e: { address: string; share: number }) => [e.address, e.share]);
    expect(shares).toEqual([
      ['10.0.0.1:80', 0.25],
      ['192.0.2.7:15443', 0.75],
    ]);
    writeFileSync(networks, 'networks:\n  vm:\n    gateways:\n    - {address: 192.0.2.7}\n');
    const bad = await xdsim([...args, '--mesh-networks', networks]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${networks}:4 MeshNetworks networks.vm.gateways[0].port: required field missing`);
  });

  it('exit 2 with file:line errors on bad config, and unused kinds as a note', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdsim-cli-'));
    const f = join(dir, 'mesh.yaml');
    writeFileSync(f, 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: we-bad\n  namespace: pay\nspec:\n  weight: heavy\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n');
    const r = await xdsim(['eds', '-f', f, '--cluster', C]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:7 WorkloadEntry pay/we-bad spec.weight: expected an integer 0..4294967295, got "heavy"`);
    expect(r.stderr).toContain('not used by xdsim (VirtualService)');
    expect(r.stdout).toBe('');
  });

  it.each([
    [['eds', '-f', 'examples/mesh', '--cluster', 'nope'], 'unknown cluster "nope"'],
    [['eds', '-f', 'examples/mesh', '--cluster', C, '-o', 'yaml'], '-o: expected json or table'],
    [['lb', '-f', 'examples/mesh', '--cluster', C, '--client', 'curl'], '--client: expected envoy or grpc'],
    [['lb', '-f', 'examples/mesh', '--cluster', C, '--node-label', 'novalue'], '--node-label: expected key=value'],
    [['eds', '--cluster', C], "required option '-f, --file"],
    [['eds', '-f', '/nonexistent/dir', '--cluster', C], 'cannot read'],
  ])('exit 2 on usage error %j', async (args, message) => {
    const r = await xdsim(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
