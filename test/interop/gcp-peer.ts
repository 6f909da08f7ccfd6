// The go-control-plane peer (test/interop/gcp-peer, Go): envoyproxy/go-control-plane's ADS server
// over its LinearCache, run as a child process on loopback for the fan-out benchmark. It serves
// the ClusterLoadAssignments posted to it as encoded bytes, so it pushes exactly what xdsim would.
// Built once per source (cached by hash, as the istiod peer is).
import { spawn } from 'node:child_process';
import { buildGoProgramCached } from './go-build.js';
import { awaitReadyLine, stopPeerProcess } from './peer-ready.js';

export interface GcpPeer {
  /** host:port of its plaintext ADS server. */
  readonly xds: string;
  readonly admin: string;
  readonly pid: number | undefined;
  /** Sets (or replaces) one ClusterLoadAssignment, given as its protobuf encoding. */
  setCla(bytes: Uint8Array): Promise<void>;
  /** Open ADS streams. */
  streams(): Promise<number>;
  /** Full GC and memory returned to the OS, before an RSS reading. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

const MODULE_DIR = 'gcp-peer';
const SOURCES = ['main.go', 'go.mod', 'go.sum'];

export function buildGcpPeer(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<string> {
  return buildGoProgramCached(MODULE_DIR, 'gcp-peer', SOURCES, opts);
}

export async function startGcpPeer(opts: { readyTimeoutMs?: number; log?: (line: string) => void } = {}): Promise<GcpPeer> {
  const bin = await buildGcpPeer({ ...(opts.log ? { log: opts.log } : {}) });
  // stdin is a pipe the peer watches: if this process dies, the peer exits too.
  const child = spawn(bin, ['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-100_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await awaitReadyLine(child, 'gcp peer', opts.readyTimeoutMs ?? 30_000, () => stderr.slice(-4000));
  const base = `http://${ready.admin}`;
  const call = async (path: string, init?: RequestInit): Promise<Response> => {
    const res = await fetch(base + path, init);
    if (!res.ok) throw new Error(`gcp peer ${path}: ${res.status} ${(await res.text()).trim()}`);
    return res;
  };
  let stopped = false;
  return {
    xds: ready.xds,
    admin: ready.admin,
    pid: child.pid,
    async setCla(bytes) {
      await call('/cla', { method: 'POST', body: bytes, headers: { 'content-type': 'application/x-protobuf' } });
    },
    async streams() {
      return ((await (await call('/stats')).json()) as { streams: number }).streams;
    },
    async gc() {
      await call('/gc', { method: 'POST' });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopPeerProcess(child, exited);
    },
  };
}
