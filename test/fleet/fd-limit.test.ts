// The open-files budget of a fleet: `xdsim agents` checks its limit before starting (refusing
// with the number it needs, or re-running itself under prlimit when only the soft limit is low),
// and a fleet that runs out of descriptors anyway (--no-fd-check) counts EMFILE as connect
// errors and finishes with a summary instead of dying in a progress timer. Real processes with a
// low `ulimit -n`, so EMFILE comes at a couple of hundred agents.
import { execFile, fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextMessage } from '../../bench/child.js';
import { fdsNeededForFleet, planFdLimit, readFdLimit } from '../../src/fleet/fd-limit.js';
import { startTestServer, type TestServer } from './helpers.js';

const BIN = join(import.meta.dirname, '../../bin/xdsim.js');
// Node raises its own soft limit to the hard one at start-up, so only a hard limit can be too low;
// raising that takes CAP_SYS_RESOURCE (containers often drop it, even for root).
const ownHard = readFdLimit()?.hard ?? 0;
const canRaiseHard = spawnSync('prlimit', [`--nofile=${ownHard + 1000}:${ownHard + 1000}`, 'true'], { stdio: 'ignore' }).status === 0;

/** `xdsim agents ...` under `ulimit <ulimitArgs>` in a shell, so the limit is the child's only. */
function agentsUnderUlimit(ulimitArgs: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const quoted = [process.execPath, BIN, 'agents', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return new Promise((resolve) => {
    execFile('bash', ['-c', `ulimit ${ulimitArgs} && exec ${quoted}`], { timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('open-files limit of a fleet', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer({ groups: [] });
    dir = mkdtempSync(join(tmpdir(), 'xdsim-fd-'));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads this process limit from /proc', () => {
    const l = readFdLimit();
    expect(l).toBeDefined();
    expect(l!.soft).toBeGreaterThan(0);
    expect(l!.hard).toBeGreaterThanOrEqual(l!.soft);
  });

  it('plans: enough, raise the soft limit, raise both, refuse with the number', () => {
    const never = () => false;
    const always = () => true;
    expect(planFdLimit(500, 'x', 'r', { soft: 1024, hard: 4096 }, never).kind).toBe('ok');
    expect(planFdLimit(2000, 'x', 'r', { soft: 1024, hard: 4096 }, always)).toMatchObject({ kind: 'raise', soft: 2000, hard: 4096 });
    expect(planFdLimit(9000, 'x', 'r', { soft: 1024, hard: 4096 }, always)).toMatchObject({ kind: 'raise', soft: 9000, hard: 9000 });
    const refused = planFdLimit(50_128, '--count 50000', 'Shard it.', { soft: 20_000, hard: 20_000 }, never);
    expect(refused.kind).toBe('refuse');
    expect(refused.kind === 'refuse' && refused.message).toMatch(/--count 50000 needs about 50128 open files.*may open 20000 \(hard limit 20000\).*Shard it\./);
  });

  it('refuses a count the hard limit cannot hold, saying what it needs', async () => {
    const needed = fdsNeededForFleet(400, 0);
    const r = await agentsUnderUlimit('-n 200', ['--xds', server.target, '--count', '400', '--workers', '0', '--duration', '2s', '--progress', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--count 400 needs about ${needed} open files`);
    expect(r.stderr).toContain('may open 200 (hard limit 200)');
  });

  it.runIf(canRaiseHard)('re-runs itself under prlimit when it may raise the limit', async () => {
    const out = join(dir, 'raised.json');
    const r = await agentsUnderUlimit('-n 200', ['--xds', server.target, '--count', '300', '--workers', '0', '--duration', '4s', '--progress', 'none', '--ip-base', '10.210.0.0', '--json', out]);
    expect(r.stderr).toMatch(/raising the open-files limit from 200 to \d+ for 300 agents/);
    expect(r.code).toBe(0);
    const s = JSON.parse(readFileSync(out, 'utf8')) as { agents: { connected: number }; counters: { outOfDescriptors: number } };
    expect(s.agents.connected).toBe(300);
    expect(s.counters.outOfDescriptors).toBe(0);
  });

  it('with --no-fd-check, counts EMFILE as connect errors and finishes with a summary', async () => {
    const out = join(dir, 'emfile.json');
    const r = await agentsUnderUlimit('-n 200', [
      '--xds', server.target, '--count', '400', '--workers', '0', '--duration', '5s', '--progress-every', '1s', '--no-fd-check', '--ip-base', '10.211.0.0', '--json', out,
    ]);
    // No crash (the progress timer and the final memory reading used to throw EMFILE).
    expect(r.stderr).not.toContain('uv_resident_set_memory');
    expect(r.code).toBe(0);
    const s = JSON.parse(readFileSync(out, 'utf8')) as { agents: { connected: number; target: number }; counters: { outOfDescriptors: number; errors: Record<string, number> } };
    expect(s.agents.target).toBe(400);
    // Some connect (the limit less the process's own descriptors), the rest keep failing.
    expect(s.agents.connected).toBeGreaterThan(50);
    expect(s.agents.connected).toBeLessThan(200);
    expect(s.counters.outOfDescriptors).toBeGreaterThan(0);
    expect(s.counters.errors['connect-failed']).toBeGreaterThanOrEqual(s.counters.outOfDescriptors);
    expect(r.stdout).toContain('out of descriptors (EMFILE/ENFILE)');
  });

  it('xdsim run refuses a scenario whose fleet the limit cannot hold, before any agent starts', async () => {
    const scenario = join(import.meta.dirname, '../../scenarios/quickstart.yaml');
    const quoted = [process.execPath, BIN, 'run', scenario, '--out', join(dir, 'qs')].map((a) => `'${a}'`).join(' ');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile('bash', ['-c', `ulimit -n 150 && exec ${quoted}`], { timeout: 90_000 }, (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr })),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/a fleet of 200 agents needs about \d+ open files.*may open 150/);
  });

  it('a bench parent waiting for a message notices a child that died at once', async () => {
    const script = join(dir, 'dies.mjs');
    writeFileSync(script, 'setTimeout(() => process.exit(3), 100);\n');
    const child = fork(script, [], { stdio: 'ignore' });
    const t0 = performance.now();
    await expect(nextMessage(child, 'summary', 60_000)).rejects.toThrow(/exited \(code 3\) while waiting for summary/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
