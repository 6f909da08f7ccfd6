// The processes of the network tests: `xdsim serve` in the cp namespace and `xdsim agents` in a
// fleet namespace (the real bin, spawned through `ip netns exec`), plus what the tests read from
// them: the admin API over the management link, /metrics, and the fleet's progress lines.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { WorkloadEntry } from '../../src/config/resources.js';
import type { FleetSummary } from '../../src/fleet/summary.js';
import type { Net } from './netns.js';

const BIN = fileURLToPath(new URL('../../bin/xdsim.js', import.meta.url));
export const NS = 'netns';
export const GROUP = 'vm';
export const IDLE_CLUSTER = `outbound|80||idle.${NS}.svc.cluster.local`;
export const VM_CLUSTER = `outbound|80||vm.${NS}.svc.cluster.local`;
const XDS_PORT = 15010;
const ADMIN_PORT = 15014;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xdsim-netns-'));
  tempDirs.push(d);
  return d;
}
/** Removes the mesh files and fleet summaries this run wrote. */
export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The group (probe every 1 s), its Service, and an idle Service with one static entry. */
export function meshFile(): string {
  const file = join(tempDir(), 'mesh.yaml');
  const docs = [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadGroup',
      metadata: { name: GROUP, namespace: NS },
      spec: { metadata: { labels: { app: 'vm' } }, template: { ports: { http: 8080 }, serviceAccount: GROUP }, probe: { httpGet: { port: 8080, path: '/ready' }, periodSeconds: 1 } },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'vm', namespace: NS }, spec: { selector: { app: 'vm' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'idle', namespace: NS }, spec: { selector: { app: 'idle' }, ports: [{ name: 'http', port: 80, targetPort: 9090 }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'idle-1', namespace: NS }, spec: { address: '10.99.0.1', labels: { app: 'idle' } } },
  ];
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  return file;
}

export interface Server {
  proc: ChildProcess;
  admin: string;
  log: () => string;
}

/** `xdsim serve` in the cp namespace: xDS on every address there, admin on the management link. */
export async function startServer(net: Net, extra: string[]): Promise<Server> {
  const args = [BIN, 'serve', '-f', meshFile(), '--validate-identity', 'false', '--xds-address', `0.0.0.0:${XDS_PORT}`, '--admin-address', `${net.cpMgmtIp}:${ADMIN_PORT}`, '--log-level', 'warn', ...extra];
  const proc = net.spawnIn(net.cp, [process.execPath, ...args]);
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  proc.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const admin = `http://${net.cpMgmtIp}:${ADMIN_PORT}`;
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (proc.exitCode !== null) break;
    try {
      if ((await fetch(`${admin}/ready`, { signal: AbortSignal.timeout(1_000) })).ok) return { proc, admin, log: () => log };
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`xdsim serve did not become ready:\n${log}`);
}

export interface Agents {
  proc: ChildProcess;
  /** Latest progress line's figures, and when it arrived. */
  progress: { connected: number; inEds: number; errors: number; at: number };
  /** Resolves with the summary once the fleet has ended (its --duration, or SIGTERM). */
  done: Promise<FleetSummary>;
  log: () => string;
}

/** `xdsim agents` in fleet namespace k, against the server's address on that link. */
export function startAgents(net: Net, k: number, args: string[]): Agents {
  const out = join(tempDir(), 'summary.json');
  const argv = [BIN, 'agents', '--xds', `${net.link(k).serverIp}:${XDS_PORT}`, '--namespace', NS, '--group', GROUP, '--json', out, '--progress', 'plain', '--progress-every', '200ms', ...args];
  const proc = net.spawnIn(net.link(k).ns, [process.execPath, ...argv]);
  const a: Agents = {
    proc,
    progress: { connected: 0, inEds: 0, errors: 0, at: 0 },
    done: new Promise((resolve, reject) => {
      proc.on('exit', (code, sig) => {
        try {
          resolve(JSON.parse(readFileSync(out, 'utf8')) as FleetSummary);
        } catch {
          reject(new Error(`xdsim agents exited ${code ?? sig} without a summary:\n${log.slice(-3000)}`));
        }
      });
    }),
    log: () => log,
  };
  let log = '';
  let partial = '';
  proc.stderr!.on('data', (d: Buffer) => {
    const s = d.toString();
    log = (log + s).slice(-20_000);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /connected (\d+) in-eds (\d+) failed \d+ errors (\d+)/.exec(line);
      if (m) a.progress = { connected: Number(m[1]), inEds: Number(m[2]), errors: Number(m[3]), at: Date.now() };
    }
  });
  proc.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  return a;
}

export async function entries(s: Server): Promise<WorkloadEntry[]> {
  const r = await fetch(`${s.admin}/debug/configz?kind=WorkloadEntry&namespace=${NS}`, { signal: AbortSignal.timeout(5_000) });
  if (r.status !== 200) throw new Error(`configz ${r.status}`);
  return ((await r.json()) as WorkloadEntry[]).filter((e) => e.metadata.name !== 'idle-1');
}

/** Throws if a name or an address is there twice. */
export function assertNoDuplicates(list: readonly WorkloadEntry[]): void {
  const names = new Set<string>();
  const addrs = new Set<string>();
  for (const e of list) {
    if (names.has(e.metadata.name)) throw new Error(`duplicate entry ${e.metadata.name}`);
    if (addrs.has(e.spec.address ?? '')) throw new Error(`two entries for ${e.spec.address}`);
    names.add(e.metadata.name);
    addrs.add(e.spec.address ?? '');
  }
}

export const healthOf = (e: WorkloadEntry) => e.status?.conditions?.find((c) => c.type === 'Healthy')?.status;

export async function metrics(s: Server): Promise<string> {
  return (await fetch(`${s.admin}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
}

export function metric(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  return undefined;
}

/** A quantile of a Prometheus histogram (upper bound of the bucket it falls in), seconds. */
export function histogramQuantile(text: string, name: string, q: number): { value: number; count: number } {
  const buckets: [number, number][] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line);
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  const want = q * count;
  for (const [le, c] of buckets) if (c >= want) return { value: le, count };
  return { value: NaN, count };
}

/** Polls until `cond` holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return true;
    } catch {
      // Server busy or between states: retry until the deadline.
    }
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function stop(p: ChildProcess, graceMs = 5_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

export const say = (label: string, figures: Record<string, unknown>) => process.stderr.write(`[netns] ${label}: ${JSON.stringify(figures)}\n`);
