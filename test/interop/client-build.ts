// Builds the non-Go interop clients once per source, as buildGoProgramCached does for Go: a
// grpc-java jar (Maven, shaded) and a Python venv with grpcio. Each lives under
// `${XDG_CACHE_HOME:-~/.cache}/xdsim/<name>/<hash>/`, keyed by a hash of its sources, and is
// reused while they are unchanged; a build happens in a temporary directory renamed into place,
// so concurrent callers may both build without harm. Builds of older sources are removed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildOptions {
  timeoutMs?: number;
  log?: (line: string) => void;
}

function moduleDirOf(moduleDir: string): string {
  return fileURLToPath(new URL(`./${moduleDir}/`, import.meta.url));
}

function cacheDir(name: string, cwd: string, sources: readonly string[], salt: string): { dir: string; digest: string } {
  const hash = createHash('sha256');
  hash.update(`${salt}\0`);
  for (const s of sources) {
    hash.update(`${s}\0`);
    hash.update(readFileSync(path.join(cwd, s)));
    hash.update('\0');
  }
  const digest = hash.digest('hex').slice(0, 16);
  const cacheRoot = process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache');
  return { dir: path.join(cacheRoot, 'xdsim', name, digest), digest };
}

function removeOlder(dir: string, digest: string): void {
  for (const other of readdirSync(path.dirname(dir))) {
    if (other !== digest && !other.startsWith(`${digest}.tmp-`)) rmSync(path.join(path.dirname(dir), other), { recursive: true, force: true });
  }
}

/** Runs a command to completion (bounded), rejecting with its stderr/stdout tail on failure. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: string) => {
      output += d;
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what} failed: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${output.slice(-8000)}`));
    });
  });
}

/**
 * `mvn -q package` of the Maven project in test/interop/<moduleDir> (its `sources`: pom.xml and
 * the Java files), in a copy of it, and returns the path of its shaded jar
 * (`target/<finalName>.jar`, `jarName`) in the cache. Dependencies come from Maven Central
 * through ~/.m2 as usual.
 */
export async function buildMavenJarCached(
  moduleDir: string,
  name: string,
  sources: readonly string[],
  jarName: string,
  opts: BuildOptions = {},
): Promise<string> {
  const cwd = moduleDirOf(moduleDir);
  const { dir, digest } = cacheDir(name, cwd, sources, 'maven');
  const jar = path.join(dir, jarName);
  if (existsSync(jar)) return jar;
  mkdirSync(path.dirname(dir), { recursive: true });
  const work = mkdtempSync(`${dir}.tmp-`);
  try {
    for (const s of sources) {
      mkdirSync(path.dirname(path.join(work, s)), { recursive: true });
      cpSync(path.join(cwd, s), path.join(work, s));
    }
    opts.log?.(`building ${name} from test/interop/${moduleDir} (mvn package; the first one downloads grpc-java)...`);
    const started = Date.now();
    await run('mvn', ['-q', '-B', 'package', '-DskipTests'], work, opts.timeoutMs ?? 900_000, `mvn package in test/interop/${moduleDir}`);
    mkdirSync(dir, { recursive: true });
    renameSync(path.join(work, 'target', jarName), `${jar}.tmp-${process.pid}`);
    renameSync(`${jar}.tmp-${process.pid}`, jar);
    opts.log?.(`built ${name} in ${((Date.now() - started) / 1000).toFixed(0)} s: ${jar}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  removeOlder(dir, digest);
  return jar;
}

/**
 * A venv with test/interop/<moduleDir>/requirements.txt installed (pip from PyPI), keyed by that
 * file and the interpreter's version; returns the venv's python. The client scripts themselves
 * run from the work tree.
 */
export async function pythonVenvCached(moduleDir: string, name: string, opts: BuildOptions & { python?: string } = {}): Promise<string> {
  const cwd = moduleDirOf(moduleDir);
  const python = opts.python ?? 'python3';
  const version = await new Promise<string>((resolve, reject) => {
    const child = spawn(python, ['-c', 'import sys; print(sys.version)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', (err) => reject(new Error(`${python}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${python} exited ${code}`))));
  });
  const { dir, digest } = cacheDir(name, cwd, ['requirements.txt'], `python ${version}`);
  const venvPython = path.join(dir, 'venv', 'bin', 'python');
  if (existsSync(venvPython)) return venvPython;
  mkdirSync(path.dirname(dir), { recursive: true });
  const work = mkdtempSync(`${dir}.tmp-`);
  try {
    opts.log?.(`creating the ${name} venv (pip install -r test/interop/${moduleDir}/requirements.txt)...`);
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? 600_000;
    await run(python, ['-m', 'venv', path.join(work, 'venv')], work, timeoutMs, `${python} -m venv`);
    await run(
      path.join(work, 'venv', 'bin', 'python'),
      ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', path.join(cwd, 'requirements.txt')],
      work,
      timeoutMs,
      `pip install for test/interop/${moduleDir}`,
    );
    // A venv finds its site-packages next to its pyvenv.cfg, so it survives the rename (only
    // pip's own console scripts keep the old path in their shebangs; we run `python -m`).
    try {
      renameSync(work, dir);
    } catch (err) {
      // Another process got there first: use theirs.
      if (!existsSync(venvPython)) throw err;
    }
    opts.log?.(`created the ${name} venv in ${((Date.now() - started) / 1000).toFixed(0)} s: ${dir}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  removeOlder(dir, digest);
  return venvPython;
}
