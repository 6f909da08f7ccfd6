// The proxyless gRPC client flavours of the interop tests, each run as a child process speaking
// one stdin protocol (test/interop/grpc-go/main.go): it prints `{"ready":true}` once its channel
// to xds:///<target> exists, answers `tally <n>` with a JSON map backend -> count (failures as
// "error:<code>"), and exits on `quit` or end of input. The bootstrap goes in
// GRPC_XDS_BOOTSTRAP_CONFIG, read once per process, so one child serves one control plane.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildMavenJarCached, pythonVenvCached, type BuildOptions } from './client-build.js';
import { buildGoProgramCached } from './go-build.js';

export interface ClientCommand {
  command: string;
  args: string[];
}

export interface ClientFlavour {
  /** Short name: grpc-js, grpc-go, grpc-java, grpc-python. */
  readonly name: string;
  /** What it is, for test names and reports. */
  readonly title: string;
  /** Builds (or finds cached) and returns how to run it with `-target <target>`. */
  prepare(opts?: BuildOptions): Promise<ClientCommand>;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export const GRPC_JS: ClientFlavour = {
  name: 'grpc-js',
  title: '@grpc/grpc-js-xds',
  prepare: async () => ({ command: process.execPath, args: ['--import', 'tsx', here('./grpc-js/client.ts')] }),
};

export const GRPC_GO: ClientFlavour = {
  name: 'grpc-go',
  title: 'grpc-go',
  prepare: async (opts) => ({ command: await buildGoProgramCached('grpc-go', 'grpc-go-client', ['main.go', 'go.mod', 'go.sum'], opts), args: [] }),
};

export const GRPC_JAVA: ClientFlavour = {
  name: 'grpc-java',
  title: 'grpc-java (io.grpc:grpc-xds)',
  prepare: async (opts) => {
    const jar = await buildMavenJarCached('grpc-java', 'grpc-java-client', ['pom.xml', 'src/main/java/xdsim/Client.java'], 'client.jar', opts);
    // Small heap, one JIT thread pool: two cores are shared with the servers under test.
    return { command: 'java', args: ['-Xmx256m', '-XX:+UseSerialGC', '-jar', jar] };
  },
};

export const GRPC_PYTHON: ClientFlavour = {
  name: 'grpc-python',
  title: 'Python grpcio (gRPC C-core)',
  prepare: async (opts) => ({ command: await pythonVenvCached('grpc-python', 'grpc-python-venv', opts), args: [here('./grpc-python/client.py')] }),
};

export const CLIENT_FLAVOURS: readonly ClientFlavour[] = [GRPC_JS, GRPC_GO, GRPC_JAVA, GRPC_PYTHON];

export interface ProxylessChild {
  /** n RPCs: backend name -> count ("error:<code>" for failures). */
  tally(n: number): Promise<Record<string, number>>;
  /** `quit`, then SIGKILL after 5 s if it is still running. */
  stop(): Promise<void>;
  /** Its stderr so far (tail). */
  logs(): string;
}

/** Starts a client with `bootstrap` and waits (bounded) for its ready line. */
export async function startProxylessChild(
  cmd: ClientCommand,
  target: string,
  bootstrap: object,
  opts: { readyTimeoutMs?: number; label?: string; env?: Record<string, string> } = {},
): Promise<ProxylessChild> {
  const label = opts.label ?? cmd.command;
  const child: ChildProcessWithoutNullStreams = spawn(cmd.command, [...cmd.args, '-target', target], {
    env: { ...process.env, ...opts.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (process.env['XDSIM_TEST_LOG']) process.stderr.write(d);
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  let dead: Error | undefined;
  child.once('exit', (code, signal) => {
    dead = new Error(`${label} exited (${signal ?? `exit ${code}`})\n--- stderr (tail) ---\n${stderr.slice(-4000)}`);
    for (const p of pending.splice(0)) p.reject(dead);
  });
  child.once('error', (err) => {
    dead = new Error(`${label} did not start: ${err.message}`);
    for (const p of pending.splice(0)) p.reject(dead);
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (l) => pending.shift()?.resolve(l));

  const nextLine = (timeoutMs: number, what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      const timer = setTimeout(() => {
        const i = pending.indexOf(entry);
        if (i >= 0) pending.splice(i, 1);
        reject(new Error(`${label}: no ${what} in ${timeoutMs} ms\n--- stderr (tail) ---\n${stderr.slice(-4000)}`));
      }, timeoutMs);
      const entry = {
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      pending.push(entry);
    });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    lines.close();
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end('quit\n');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  };

  try {
    const ready = await nextLine(opts.readyTimeoutMs ?? 60_000, 'ready line');
    if (JSON.parse(ready)?.ready !== true) throw new Error(`${label}: unexpected first line ${ready}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    async tally(n) {
      // 20 RPCs in flight with a 5 s deadline each: n / 20 * 5 s at worst, plus slack.
      const answer = nextLine(30_000 + Math.ceil(n / 20) * 5_000, `answer to tally ${n}`);
      child.stdin.write(`tally ${n}\n`);
      return JSON.parse(await answer) as Record<string, number>;
    },
    stop,
    logs: () => stderr,
  };
}
