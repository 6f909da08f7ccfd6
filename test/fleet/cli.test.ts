// `xdsim agents` as users run it: flags, exit codes, the JSON summary, workers under bin/xdsim.js.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetConfigFromFlags, type AgentsFlags } from '../../src/cli/agents.js';
import { CliError } from '../../src/cli/errors.js';
import { mergeSummaries, type FleetSummary } from '../../src/fleet/summary.js';
import { REGISTRATION_AVAILABLE, startTestServer, type TestServer } from './helpers.js';

const BIN = join(import.meta.dirname, '../../bin/xdsim.js');

function xdsim(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const flags = (extra: Partial<AgentsFlags>): AgentsFlags => ({
  xds: '127.0.0.1:15010',
  namespace: 'default',
  count: '10',
  duration: '30s',
  ipBase: '10.200.0.0',
  cds: true,
  health: true,
  ...extra,
});

describe('xdsim agents flags', () => {
  it('maps flags to the fleet config', () => {
    const c = fleetConfigFromFlags(
      flags({ group: 'pay', count: '2000', ramp: '100', unhealthyFraction: '5%', localities: '2x1x1', labels: 'app=pay,v=1', delta: true, cds: false, clusters: 'a,b', probe: 'http://127.0.0.1:8080/ready', probePeriod: '2s', nack: '0.1:eds', churn: 'storm:at=5s' }),
      {},
    );
    expect(c).toMatchObject({
      group: 'pay',
      count: 2000,
      rampPerSec: 100,
      unhealthyFraction: 0.05,
      labels: { app: 'pay', v: '1' },
      mode: 'delta',
      subscription: { cds: false, eds: ['a', 'b'] },
      probe: { periodMs: 2000, target: { kind: 'http', host: '127.0.0.1', port: 8080, path: '/ready' } },
      nack: { probability: 0.1, types: 'eds' },
      churn: [{ kind: 'storm', atMs: 5000 }],
    });
    expect(c.localities.length).toBe(2);
    expect(c.workers).toBeGreaterThanOrEqual(1);
    expect(fleetConfigFromFlags(flags({ health: false }), {}).probe).toBeNull();
    expect(c.prepare).toBe(false);
    expect(fleetConfigFromFlags(flags({ prepare: true }), {}).prepare).toBe(true);
  });

  it('shard index defaults from JOB_COMPLETION_INDEX; the flag wins', () => {
    expect(fleetConfigFromFlags(flags({ shardCount: '4' }), { JOB_COMPLETION_INDEX: '3' }).shardIndex).toBe(3);
    expect(fleetConfigFromFlags(flags({ shardCount: '4', shardIndex: '1' }), { JOB_COMPLETION_INDEX: '3' }).shardIndex).toBe(1);
    expect(() => fleetConfigFromFlags(flags({ shardCount: '2' }), { JOB_COMPLETION_INDEX: '2' })).toThrow(/shard-index/);
  });

  it('bad values are CliErrors naming the flag', () => {
    const bad: [Partial<AgentsFlags>, RegExp][] = [
      [{ count: '0' }, /--count/],
      [{ count: 'ten' }, /--count/],
      [{ xds: 'nope' }, /xds/],
      [{ duration: 'forever' }, /--duration/],
      [{ ramp: '10/s' }, /--ramp/],
      [{ unhealthyFraction: '2' }, /--unhealthy-fraction/],
      [{ locality: 'a/b/c', localities: '2x2x2' }, /exclusive/],
      [{ churn: 'explode:at=1s' }, /unknown model/],
      [{ probe: 'ftp://x:1' }, /--probe/],
      [{ nack: '0.5:lds' }, /--nack/],
      [{ ipBase: '300.1.1.1' }, /ip-base/],
      [{ labels: 'novalue' }, /--labels/],
      [{ watch: 'sometimes' }, /--watch/],
    ];
    for (const [extra, re] of bad) {
      expect(() => fleetConfigFromFlags(flags(extra), {}), JSON.stringify(extra)).toThrow(CliError);
      expect(() => fleetConfigFromFlags(flags(extra), {}), JSON.stringify(extra)).toThrow(re);
    }
  });
});

describe('xdsim agents (process)', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-agents-'));
  beforeAll(async () => {
    server = await startTestServer({ groups: [{ name: 'web', namespace: 'cli', labels: { app: 'web' } }] });
  });
  afterAll(() => server.close());

  it('exit 2 on bad input', async () => {
    const r = await xdsim(['agents', '--xds', server.target, '--count', '5', '--churn', 'bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown model "bogus"');
    expect((await xdsim(['agents', '--count', '5'])).code).toBe(2); // --xds missing
  });

  it('runs two shards on worker threads, writes mergeable JSON summaries', async () => {
    const common = ['agents', '--xds', server.target, '--namespace', 'cli', '--group', 'web', '--labels', 'app=web', '--count', '40', '--duration', '4s', '--workers', '1', '--shard-count', '2', '--probe-period', '500ms', '--progress', 'plain'];
    const [a, b] = await Promise.all([
      xdsim([...common, '--json', join(dir, 's0.json')], { JOB_COMPLETION_INDEX: '0' }),
      xdsim([...common, '--json', join(dir, 's1.json')], { JOB_COMPLETION_INDEX: '1' }),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stdout).toContain('connected'); // the summary table
    const s0 = JSON.parse(readFileSync(join(dir, 's0.json'), 'utf8')) as FleetSummary;
    const s1 = JSON.parse(readFileSync(join(dir, 's1.json'), 'utf8')) as FleetSummary;
    expect([s0.shards[0]!.index, s1.shards[0]!.index]).toEqual([0, 1]);
    const m = mergeSummaries([s0, s1]);
    expect(m.agents.target).toBe(40);
    expect(m.agents.connected).toBe(40);
    expect(m.latency.connect.count).toBe(40);
    if (REGISTRATION_AVAILABLE) expect(m.agents.registered).toBe(40);
  });

  it('exit 1 when an expectation fails; --json - prints the summary on stdout', async () => {
    const r = await xdsim(['agents', '--xds', server.target, '--namespace', 'cli', '--group', 'web', '--labels', 'app=web', '--count', '10', '--duration', '2s', '--workers', '0', '--unhealthy-fraction', '1', '--probe-period', '300ms', '--json', '-', '--progress', 'none', '--expect-registered', '0.5']);
    if (!REGISTRATION_AVAILABLE) return;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('expectation failed: registered 0/10');
    expect(JSON.parse(r.stdout).agents.target).toBe(10);
  });
});
