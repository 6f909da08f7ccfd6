// The Job's loop without a cluster: two shards run with the manifest's own arguments (the target,
// TLS and size swapped for a local plaintext `xdsim serve`) and JOB_COMPLETION_INDEX as the Job
// controller sets it, stdout and stderr in one log as `kubectl logs` returns them; the summaries
// are cut out of the logs with the command docs/agents.md gives and merged with `xdsim report merge`.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin/xdsim.js');
// How docs/agents.md cuts the pretty-printed summary out of a pod's log (progress lines and any
// one-line JSON log records do not match a lone "{" ... "}").
const EXTRACT = "sed -n '/^{$/,/^}$/p'";

const MESH = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: payments, namespace: vm-load }
spec:
  metadata: { labels: { app: payments } }
  template: { serviceAccount: payments, ports: { http: 8080 } }
---
apiVersion: v1
kind: Service
metadata: { name: payments, namespace: vm-load }
spec:
  selector: { app: payments }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`;

const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-collect-'));
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('agents-job.yaml: run shards, collect their logs, merge', () => {
  it('every shard connects its part of the fleet and the merge adds up to the whole', async () => {
    expect(readFileSync(path.join(ROOT, 'docs/agents.md'), 'utf8')).toContain(`| ${EXTRACT} >`);
    const job = parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/k8s/agents-job.yaml'), 'utf8'))
      .map((d) => d.toJS() as Record<string, any>)
      .find((d) => d['kind'] === 'Job')!;
    const shards = job['spec']['completions'] as number;
    const container = job['spec']['template']['spec']['containers'][0];
    writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
    const serve = serveProcess(['-f', path.join(dir, 'mesh.yaml'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0']);
    const { xds } = await servingPorts(serve);

    const COUNT = 8 * shards;
    const local: Record<string, string | undefined> = {
      '--xds': `127.0.0.1:${xds}`,
      '--tls-ca': undefined,
      '--sni': undefined,
      '--token-file': undefined,
      '--count': String(COUNT),
      '--duration': '3s',
      // On the test's thread: four processes share two cores here.
      '--workers': '0',
    };
    const args = (container['args'] as string[]).flatMap((a) => {
      const flag = a.slice(0, a.indexOf('='));
      if (!(flag in local)) return [a];
      return local[flag] === undefined ? [] : [`${flag}=${local[flag]}`];
    });
    expect(args.some((a) => a.startsWith('--json=-'))).toBe(true);
    expect(args.some((a) => a.startsWith('--progress=plain'))).toBe(true);
    // container.command is ["node", "/app/bin/xdsim.js", "agents"]: here, this checkout's bin.
    const runs = Array.from({ length: shards }, (_, i) => {
      const log = path.join(dir, `xdsim-agents-${i}.log`);
      const fd = openSync(log, 'w');
      const child = spawn(process.execPath, [BIN, container['command'].at(-1), ...args], {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, JOB_COMPLETION_INDEX: String(i) },
      });
      closeSync(fd);
      const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      return new Promise<string>((resolve, reject) =>
        child.on('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve(log);
          else reject(new Error(`shard ${i} exited ${code}:\n${readFileSync(log, 'utf8').slice(-3000)}`));
        }),
      );
    });
    const logs = await Promise.all(runs);
    const files: string[] = [];
    for (const [i, log] of logs.entries()) {
      // Progress went into the same log, as kubectl logs shows it.
      expect(readFileSync(log, 'utf8')).toMatch(/^xdsim agents: .* connected/m);
      const r = spawnSync('sh', ['-c', `${EXTRACT} < "${log}"`], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      const s = JSON.parse(r.stdout) as { shards: { index: number; count: number }[]; agents: { target: number; connected: number } };
      expect(s.shards).toEqual([{ index: i, count: shards }]);
      expect(s.agents.target).toBe(COUNT / shards);
      files.push(path.join(dir, `shard-${i}.json`));
      writeFileSync(files.at(-1)!, r.stdout);
    }
    const merged = spawnSync(process.execPath, [BIN, 'report', 'merge', ...files, '-o', path.join(dir, 'fleet.json')], { encoding: 'utf8', timeout: 30_000 });
    expect(merged.stderr).toContain(`merged ${shards} file(s)`);
    expect(merged.status).toBe(0);
    const fleet = JSON.parse(readFileSync(path.join(dir, 'fleet.json'), 'utf8')) as {
      shards: { index: number }[];
      agents: { target: number; connected: number; failed: number };
      latency: { connect: { count: number } };
    };
    expect(fleet.shards.map((s) => s.index)).toEqual([...Array(shards).keys()]);
    expect(fleet.agents).toMatchObject({ target: COUNT, connected: COUNT, failed: 0 });
    expect(fleet.latency.connect.count).toBeGreaterThanOrEqual(COUNT);
  }, 90_000);
});
