// Builds one of the Go interop programs into a temporary directory; `remove` deletes it again.
// `buildGoProgramCached` keeps the binary in a cache directory keyed by its sources instead.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function buildGoProgram(moduleDir: string, timeoutMs: number): { bin: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `xdsim-${path.basename(moduleDir)}-`));
  const bin = path.join(dir, 'program');
  const cwd = fileURLToPath(new URL(`./${moduleDir}/`, import.meta.url));
  const build = spawnSync('go', ['build', '-o', bin, '.'], { cwd, encoding: 'utf8', timeout: timeoutMs });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (build.status !== 0) {
    remove();
    throw new Error(`go build in test/interop/${moduleDir} failed (${build.error?.message ?? `exit ${build.status}`}):\n${build.stderr}`);
  }
  return { bin, remove };
}

/**
 * Builds a Go interop program once per source: the binary lives under
 * `${XDG_CACHE_HOME:-~/.cache}/xdsim/<name>/<hash>/<name>`, keyed by a hash of `sources` (paths
 * relative to the module directory), and is reused while they are unchanged. Concurrent callers
 * may both build; each writes a temporary file and renames it into place. Builds of older
 * sources are removed after a new build.
 */
export async function buildGoProgramCached(
  moduleDir: string,
  name: string,
  sources: readonly string[],
  opts: { timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<string> {
  const cwd = fileURLToPath(new URL(`./${moduleDir}/`, import.meta.url));
  const hash = createHash('sha256');
  for (const s of sources) {
    hash.update(`${s}\0`);
    hash.update(readFileSync(path.join(cwd, s)));
    hash.update('\0');
  }
  const digest = hash.digest('hex').slice(0, 16);
  const cacheRoot = process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache');
  const dir = path.join(cacheRoot, 'xdsim', name, digest);
  const bin = path.join(dir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}-${Date.now()}`;
  opts.log?.(`building ${name} from test/interop/${moduleDir} (the first Go build of istio takes minutes)...`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', ['build', '-o', tmp, '.'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 1_500_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`go build in test/interop/${moduleDir} failed: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`go build in test/interop/${moduleDir} failed (${signal ?? `exit ${code}`}):\n${stderr}`));
    });
  }).catch((err: unknown) => {
    rmSync(tmp, { force: true });
    throw err;
  });
  renameSync(tmp, bin);
  // Older builds are ~200 MB each: keep only this one (a running binary survives its unlink).
  for (const other of readdirSync(path.dirname(dir))) {
    if (other !== digest) rmSync(path.join(path.dirname(dir), other), { recursive: true, force: true });
  }
  opts.log?.(`built ${name} in ${((Date.now() - started) / 1000).toFixed(0)} s: ${bin}`);
  return bin;
}
