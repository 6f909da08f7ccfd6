// The istiod peer: istio's real discovery server (test/interop/istiod-peer, Go) run as a child
// process on loopback, for interop and differential tests. `buildIstiodPeer` builds it once per
// source (cached), `startIstiodPeer` starts it and waits for its ready line.
import { spawn } from 'node:child_process';
import { buildGoProgramCached } from './go-build.js';
import { awaitReadyLine, stopPeerProcess } from './peer-ready.js';

export interface IstiodPeerOptions {
  /** YAML files or directories (-f), as `xdsim serve -f` takes them. */
  files: string[];
  /** PILOT_DEBOUNCE_AFTER in ms (default 100, istiod's). */
  debounceMs?: number;
  /** PEM SPKI key verifying xDS bearer tokens; with it (or jwksFile) every stream must carry one. */
  jwtPublicKeyFile?: string;
  jwksFile?: string;
  /** ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY (default true, as istiod). */
  validateIdentity?: boolean;
  meshNetworksFile?: string;
  /** PILOT_MAX_REQUESTS_PER_SECOND (the peer's default is 10000; istiod derives 25 on 2 cores). */
  maxRequestsPerSecond?: number;
  extraArgs?: string[];
  /** How long to wait for the ready line once the binary is built (default 60 s). */
  readyTimeoutMs?: number;
  /** Where the peer's stderr goes: 'buffer' (kept for errors, default) or 'inherit'. */
  stderr?: 'buffer' | 'inherit';
}

export interface IstiodPeer {
  /** host:port of its plaintext xDS server. */
  readonly xds: string;
  /** Its process id (benchmarks read its CPU and RSS from /proc). */
  readonly pid: number | undefined;
  /** host:port of its admin HTTP server. */
  readonly admin: string;
  /** POST /apply: create or update each YAML document. */
  apply(yaml: string): Promise<void>;
  /** POST /delete: delete each YAML document (kind, metadata.name, metadata.namespace). */
  remove(yaml: string): Promise<void>;
  /** GET /workloadentries: every WorkloadEntry as a Kubernetes object (with ownerReferences). */
  workloadEntries(): Promise<unknown[]>;
  /** The peer's stderr so far (when buffered). */
  logs(): string;
  stop(): Promise<void>;
}

const MODULE_DIR = 'istiod-peer';
const SOURCES = ['main.go', 'go.mod', 'go.sum'];

/** Builds the peer (or finds it in the cache) and returns the binary's path. */
export function buildIstiodPeer(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<string> {
  return buildGoProgramCached(MODULE_DIR, 'istiod-peer', SOURCES, opts);
}

/** The command-line flags for `opts` (without the binary). */
export function istiodPeerArgs(opts: IstiodPeerOptions): string[] {
  const args: string[] = [];
  for (const f of opts.files) args.push('-f', f);
  args.push('--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0');
  args.push('--debounce', `${opts.debounceMs ?? 100}ms`);
  if (opts.jwtPublicKeyFile) args.push('--jwt-public-key', opts.jwtPublicKeyFile);
  if (opts.jwksFile) args.push('--jwks', opts.jwksFile);
  if (opts.validateIdentity !== undefined) args.push(`--validate-identity=${opts.validateIdentity}`);
  if (opts.meshNetworksFile) args.push('--mesh-networks', opts.meshNetworksFile);
  if (opts.maxRequestsPerSecond !== undefined) args.push('--max-requests-per-second', String(opts.maxRequestsPerSecond));
  args.push(...(opts.extraArgs ?? []));
  return args;
}

export async function startIstiodPeer(opts: IstiodPeerOptions): Promise<IstiodPeer> {
  const bin = await buildIstiodPeer();
  // stdin is a pipe the peer watches: if this process dies, the peer stops too.
  const child = spawn(bin, [...istiodPeerArgs(opts), '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', opts.stderr === 'inherit' ? 'inherit' : 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    // Keep the tail only: istiod logs every push.
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const ready = await awaitReadyLine(child, 'istiod peer', opts.readyTimeoutMs ?? 60_000, () => stderr.slice(-8000));

  const base = `http://${ready.admin}`;
  const post = async (route: '/apply' | '/delete', yaml: string) => {
    const res = await fetch(base + route, { method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' } });
    if (!res.ok) throw new Error(`istiod peer ${route}: ${res.status} ${(await res.text()).trim()}`);
  };
  let stopped = false;
  return {
    xds: ready.xds,
    pid: child.pid,
    admin: ready.admin,
    apply: (yaml) => post('/apply', yaml),
    remove: (yaml) => post('/delete', yaml),
    async workloadEntries() {
      const res = await fetch(`${base}/workloadentries`);
      if (!res.ok) throw new Error(`istiod peer /workloadentries: ${res.status} ${await res.text()}`);
      return (await res.json()) as unknown[];
    },
    logs: () => stderr,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopPeerProcess(child, exited);
    },
  };
}
