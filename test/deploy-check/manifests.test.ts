// Every manifest under deploy/ decoded strictly against the Kubernetes API types (the Go program
// in this directory, on k8s.io/api through client-go's scheme), so a misspelled field fails here
// instead of being dropped by the API server; then what the types cannot see: the Job's flags are
// ones `xdsim agents` has, the files they name are mounted, and the shards add up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGoProgramCached } from '../interop/go-build.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = path.join(ROOT, 'deploy');
const HAVE_GO = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;
if (!HAVE_GO) console.warn('test/deploy-check: manifests not decoded against the Kubernetes types: no `go` on PATH');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : e.isFile() && /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []))
    .sort();
}

const documents = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).filter((d) => d.contents !== null);

describe.skipIf(!HAVE_GO)('deploy/ manifests against the Kubernetes API types', () => {
  let bin = '';
  let tmp = '';
  const check = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });

  beforeAll(async () => {
    // Cached by source hash; the first build fetches k8s.io modules through the Go proxy (~1-2 min).
    bin = await buildGoProgramCached('../deploy-check', 'deploy-check', ['main.go', 'go.mod', 'go.sum'], { timeoutMs: 600_000 });
    tmp = mkdtempSync(path.join(tmpdir(), 'xdsim-deploy-check-'));
  }, 620_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('decodes every document of every manifest, strictly', () => {
    const files = yamlFiles(DEPLOY);
    expect(files.length).toBeGreaterThan(0);
    const docs = files.reduce((n, f) => n + documents(f).length, 0);
    const r = check(DEPLOY);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Nothing skipped: as many files and documents as the YAML parser finds.
    expect(r.stdout.trim()).toBe(`${files.length} files, ${docs} documents`);
  });

  it('fails on a misspelled field, a wrong type, a duplicate key and an unknown kind, naming each', () => {
    const job = readFileSync(path.join(DEPLOY, 'k8s/agents-job.yaml'), 'utf8');
    const cases: [string, string, RegExp][] = [
      ['typo', job.replace('completionMode: Indexed', 'completionMod: Indexed'), /unknown field "spec\.completionMod"/],
      ['nested-typo', job.replace('readOnlyRootFilesystem: true', 'readOnlyRootFileSystem: true'), /unknown field "spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem"/],
      ['type', job.replace('completions: 4', 'completions: four'), /cannot unmarshal string into Go struct field JobSpec\.spec\.completions of type int32/],
      ['duplicate', job.replace('  parallelism: 4\n', '  parallelism: 4\n  parallelism: 2\n'), /"parallelism" already set/],
      ['kind', job.replace('kind: Job', 'kind: Jobs'), /batch\/v1, Kind=Jobs: not a Kubernetes API type/],
    ];
    for (const [name, text, message] of cases) {
      expect(text, name).not.toBe(job);
      const file = path.join(tmp, `${name}.yaml`);
      writeFileSync(file, text);
      const r = check(file);
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).toContain(`${file}: document 2:`);
    }
  });
});

describe('deploy/k8s/agents-job.yaml against xdsim and the Dockerfile', () => {
  const docs = documents(path.join(DEPLOY, 'k8s/agents-job.yaml')).map((d) => d.toJS() as Record<string, any>);
  const job = docs.find((d) => d['kind'] === 'Job')!;
  const pod = job['spec']['template']['spec'];
  const container = pod['containers'][0];
  const flags = new Map<string, string>((container['args'] as string[]).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));

  it("passes only flags `xdsim agents --help` lists, as --flag=value", () => {
    const help = spawnSync(process.execPath, [path.join(ROOT, 'bin/xdsim.js'), 'agents', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(help.status).toBe(0);
    const known = new Set([...help.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]));
    expect(known.size).toBeGreaterThan(30);
    for (const a of container['args'] as string[]) expect(a).toMatch(/^--[a-z-]+=./);
    expect([...flags.keys()].filter((f) => !known.has(f))).toEqual([]);
  });

  it("runs the image's entry point as the image's user, shards = completions = parallelism", () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(container['command']).toEqual([...entry, 'agents']);
    const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(dockerfile)!.slice(1).map(Number);
    expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
    expect(job['spec']['completionMode']).toBe('Indexed');
    expect(Number(flags.get('--shard-count'))).toBe(job['spec']['completions']);
    expect(job['spec']['parallelism']).toBe(job['spec']['completions']);
  });

  it("reaches istiod's 15012 with TLS and a token whose files are mounted, as the group's service account", () => {
    expect(flags.get('--xds')).toMatch(/:15012$/);
    const mounts = container['volumeMounts'] as { name: string; mountPath: string }[];
    const volumes = new Map((pod['volumes'] as { name: string }[]).map((v) => [v.name, v as Record<string, any>]));
    const volumeOf = (file: string) => {
      const m = mounts.find((x) => path.dirname(file) === x.mountPath);
      expect(m, `${file} is not in a mounted directory`).toBeDefined();
      return volumes.get(m!.name)!;
    };
    const token = volumeOf(flags.get('--token-file')!)['projected']['sources'][0]['serviceAccountToken'];
    expect(token).toMatchObject({ audience: 'istio-ca', path: path.basename(flags.get('--token-file')!) });
    // The token has to outlive the run: xdsim reads it once.
    expect(token['expirationSeconds']).toBeGreaterThan(job['spec']['activeDeadlineSeconds']);
    const ca = volumeOf(flags.get('--tls-ca')!);
    expect(ca['configMap']).toEqual({ name: 'istio-ca-root-cert' });
    expect(path.basename(flags.get('--tls-ca')!)).toBe('root-cert.pem');
    expect(flags.get('--sni')).toBe('istiod.istio-system.svc');
    expect(pod['serviceAccountName']).toBe(flags.get('--service-account'));
    expect(job['metadata']['namespace']).toBe(flags.get('--namespace'));
    const sa = docs.find((d) => d['kind'] === 'ServiceAccount')!;
    expect(sa['metadata']).toEqual({ name: pod['serviceAccountName'], namespace: job['metadata']['namespace'] });
    // A read-only root needs somewhere for tsx's cache.
    expect(container['securityContext']['readOnlyRootFilesystem']).toBe(true);
    expect(mounts.map((m) => m.mountPath)).toContain('/tmp');
  });
});
