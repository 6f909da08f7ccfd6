// How config reaches a remote control plane: multi-document YAML POSTed to an apply URL (xdsim's
// admin API, the istiod peer), or written to the stdin of a shell command (`kubectl apply -f -`
// for a real istiod, whose config lives in Kubernetes). Deletes send `kind` + `metadata` stubs the
// same way: to the URL's `/delete` sibling, or to a delete command (`kubectl delete -f -`).
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import type { Resource } from '../config/resources.js';

export interface ConfigSink {
  /** Where config goes, for notes ("POST http://...", "command kubectl apply -f -"). */
  readonly describe: string;
  /** Applies resources in one request; resolves to a line for the timeline. */
  apply(resources: readonly Resource[]): Promise<string>;
  /** Deletes by key (`Kind/namespace/name`); the keys the control plane said it did not have. */
  delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }>;
}

const API_VERSION: Record<string, string> = {
  Service: 'v1',
  Namespace: 'v1',
  ServiceAccount: 'v1',
  PeerAuthentication: 'security.istio.io/v1',
};

/** Multi-document YAML of resources. */
export function toYaml(resources: readonly object[]): string {
  return resources.map((r) => stringify(r)).join('---\n');
}

/** `Kind/namespace/name` keys -> the stubs a delete takes (apiVersion, kind, metadata). */
export function deleteStubs(keys: readonly string[]): object[] {
  return keys.map((k) => {
    const [kind = '', namespace = '', name = ''] = k.split('/');
    return { apiVersion: API_VERSION[kind] ?? 'networking.istio.io/v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
  });
}

/** The `/delete` URL next to an apply URL (`.../apply` -> `.../delete`, else `<url>/delete`). */
export function deleteUrlOf(applyUrl: string): string {
  const u = new URL(applyUrl);
  u.pathname = /\/apply\/?$/.test(u.pathname) ? u.pathname.replace(/\/apply\/?$/, '/delete') : `${u.pathname.replace(/\/$/, '')}/delete`;
  return u.toString();
}

function json(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

export class HttpConfigSink implements ConfigSink {
  readonly describe: string;

  constructor(private readonly applyUrl: string) {
    new URL(applyUrl);
    this.describe = `POST ${applyUrl}`;
  }

  private async post(url: string, body: string): Promise<{ status: number; text: string }> {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/yaml' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: res.status, text: await res.text() };
  }

  async apply(resources: readonly Resource[]): Promise<string> {
    if (resources.length === 0) return 'applied 0 resource(s)';
    const r = await this.post(this.applyUrl, toYaml(resources));
    if (r.status >= 400) throw new Error(`apply: HTTP ${r.status}: ${r.text.trim().slice(0, 500)}`);
    const body = json(r.text);
    const applied = Array.isArray(body?.['applied']) ? (body['applied'] as unknown[]).length : undefined;
    return `applied ${resources.length} resource(s)${applied !== undefined ? `, ${applied} changed` : ''}`;
  }

  async delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }> {
    const r = await this.post(deleteUrlOf(this.applyUrl), toYaml(deleteStubs(keys)));
    if (r.status >= 400) throw new Error(`delete: HTTP ${r.status}: ${r.text.trim().slice(0, 500)}`);
    const body = json(r.text);
    const deleted = Array.isArray(body?.['deleted']) ? (body['deleted'] as unknown[]).length : undefined;
    const missing = Array.isArray(body?.['missing']) ? (body['missing'] as unknown[]).map(String) : [];
    return { result: `deleted ${deleted ?? keys.length}${missing.length ? `; not found: ${missing.join(', ')}` : ''}`, missing };
  }
}

export interface CommandSinkOptions {
  /** Shell command taking YAML on stdin, e.g. `kubectl apply -f -`. */
  applyCommand: string;
  /** Likewise for deletes, e.g. `kubectl delete -f -`; without it a delete step fails. */
  deleteCommand?: string;
  /** Per command (default 60 s); past it the command's process group is killed. */
  timeoutMs?: number;
}

const TAIL_BYTES = 2000;

/** A command's stdout as one short line: JSON compacted, lines (kubectl's one per object) joined. */
export function outputLine(out: string, max = 160): string {
  const t = out.trim();
  if (!t) return '';
  let line: string;
  try {
    line = JSON.stringify(JSON.parse(t));
  } catch {
    line = t.split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
  }
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** Keeps the last `TAIL_BYTES` of a stream: enough for an error, bounded for a chatty command. */
function tail(acc: string, chunk: string): string {
  const s = acc + chunk;
  return s.length > 2 * TAIL_BYTES ? s.slice(-TAIL_BYTES) : s;
}

/** Runs `command` with `sh -c`, `input` on its stdin; resolves to its stdout, rejects with its stderr's tail. */
export function runShell(command: string, input: string, timeoutMs: number, what: string, env?: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout stops whatever the shell started (kubectl, a pipeline).
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...(env ? { env: { ...process.env, ...env } } : {}) });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out = tail(out, d)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = tail(err, d)));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    // Mostly stderr says why (kubectl); some commands put the server's answer on stdout (curl).
    const last = () => [err.trim().slice(-500), out.trim().slice(-300)].filter(Boolean).join(' | stdout: ');
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what} command "${command}" did not start: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`${what} command "${command}" timed out after ${timeoutMs} ms${last() ? `: ${last()}` : ''}`));
      if (code !== 0) return reject(new Error(`${what} command "${command}" ${signal ? `was killed (${signal})` : `exited with ${code}`}${last() ? `: ${last()}` : ''}`));
      resolve(out);
    });
    // A command that does not read its stdin closes the pipe early: its exit status says the rest.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export class CommandConfigSink implements ConfigSink {
  readonly describe: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: CommandSinkOptions) {
    if (!opts.applyCommand.trim()) throw new Error('apply command: empty');
    this.describe = `command ${opts.applyCommand}`;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  async apply(resources: readonly Resource[]): Promise<string> {
    if (resources.length === 0) return 'applied 0 resource(s)';
    const out = outputLine(await runShell(this.opts.applyCommand, toYaml(resources), this.timeoutMs, 'apply'));
    return `applied ${resources.length} resource(s)${out ? ` (${out})` : ''}`;
  }

  async delete(keys: readonly string[]): Promise<{ result: string; missing: string[] }> {
    if (!this.opts.deleteCommand) {
      throw new Error(`no delete command (--delete-command, usually 'kubectl delete -f -'): cannot delete ${keys.join(', ')}`);
    }
    const out = outputLine(await runShell(this.opts.deleteCommand, toYaml(deleteStubs(keys)), this.timeoutMs, 'delete'));
    // A command reports what it did not find by failing (kubectl) or not at all.
    return { result: `deleted ${keys.length}${out ? ` (${out})` : ''}`, missing: [] };
  }
}
