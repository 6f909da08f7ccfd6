// What a remote target offers beyond xDS, against real servers on loopback: config through a
// shell command (curl into a second xdsim's admin API, as `kubectl apply -f -` would into a
// cluster), its failures, and the auto-registered WorkloadEntries read from a debug API
// (/debug/configz of `xdsim serve`) and from the embedded control plane's store.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { parseManifests } from '../../src/config/parse.js';
import type { Resource } from '../../src/config/resources.js';
import { channelCredentials, tlsChannelOptions } from '../../src/security/tls.js';
import { CommandConfigSink, runShell, toYaml } from '../../src/scenario/config-sink.js';
import { endpointsProxy, Observers } from '../../src/scenario/observer.js';
import { EmbeddedTarget } from '../../src/scenario/embedded-target.js';
import { DEFAULT_CONTROL_PLANE, parseScenario } from '../../src/scenario/load.js';
import { autoRegisteredKeys, RemoteTarget } from '../../src/scenario/target.js';
import { TargetMetrics } from '../../src/scenario/target-metrics.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';

const MESH = `apiVersion: v1
kind: Service
metadata: { name: app, namespace: pay }
spec: { selector: { app: app }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: app, namespace: pay }
spec:
  metadata: { labels: { app: app } }
  template: { ports: { http: 8080 } }
`;
const mesh = (): Resource[] => {
  const p = parseManifests(MESH, 'mesh.yaml');
  expect(p.diagnostics).toEqual([]);
  return p.resources.map((l) => l.resource);
};

const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-target-api-'));
const agents: Agent[] = [];
afterEach(() => {
  for (const a of agents.splice(0)) a.stop();
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

function startAgents(xds: string, n: number): Agent[] {
  const out = Array.from({ length: n }, (_, i) => {
    const a = new Agent({
      target: xds,
      index: i,
      identity: { name: `vm-${i}`, namespace: 'pay', ip: `10.77.0.${i + 1}`, group: 'app', labels: { app: 'app' }, locality: { region: 'r1', zone: 'z1', subZone: 's1' } },
      backoff: { initialMs: 100, maxMs: 500, multiplier: 2, jitter: 0.5, maxAttempts: 50 },
      connectTimeoutMs: 5000,
    });
    a.start();
    return a;
  });
  agents.push(...out);
  return out;
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await f();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    v = await f();
  }
  return v;
}

const expectedKeys = (n: number) => Array.from({ length: n }, (_, i) => `WorkloadEntry/pay/app-10.77.0.${i + 1}`).sort();

describe('config through a command', () => {
  it('writes the YAML to the command\'s stdin', async () => {
    const file = path.join(dir, 'stdin.yaml');
    const sink = new CommandConfigSink({ applyCommand: `cat > '${file}'; echo done` });
    expect(await sink.apply(mesh())).toBe('applied 2 resource(s) (done)');
    expect(readFileSync(file, 'utf8')).toBe(toYaml(mesh()));
  });

  it('a failing command is an error with its exit status and the tail of its stderr', async () => {
    const sink = new CommandConfigSink({ applyCommand: `cat >/dev/null; echo 'error: unable to recognize "STDIN": no matches for kind "WorkloadGroup"' >&2; exit 1` });
    await expect(sink.apply(mesh())).rejects.toThrow(/apply command ".*" exited with 1: error: unable to recognize "STDIN": no matches for kind "WorkloadGroup"$/);
    const missing = new CommandConfigSink({ applyCommand: 'no-such-command-xdsim -f -' });
    await expect(missing.apply(mesh())).rejects.toThrow(/exited with 127: .*not found/);
  });

  it('a command that hangs is killed at the timeout, with whatever it started', async () => {
    const started = Date.now();
    await expect(runShell('sleep 30 & wait', '', 300, 'apply')).rejects.toThrow(/apply command "sleep 30 & wait" timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('deleting without a delete command fails and says which command is usual', async () => {
    const sink = new CommandConfigSink({ applyCommand: 'cat >/dev/null' });
    await expect(sink.delete(['WorkloadEntry/pay/x'])).rejects.toThrow(/no delete command \(--delete-command, usually 'kubectl delete -f -'\): cannot delete WorkloadEntry\/pay\/x/);
  });
});

describe('a second xdsim reached through commands and its debug API', () => {
  it('applies and deletes through curl, and lists the entries its agents registered', async () => {
    const server = serveProcess(['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--grace-period', '1s']);
    const ports = await servingPorts(server);
    const admin = `http://127.0.0.1:${ports.admin}`;
    const curl = (route: string) => `curl -sS --fail-with-body -H 'content-type: application/yaml' --data-binary @- ${admin}${route}`;
    const target = new RemoteTarget({ address: `127.0.0.1:${ports.xds}`, applyCommand: curl('/apply'), deleteCommand: curl('/delete'), debugUrl: admin });
    expect(target.configRoute).toBe(`command ${curl('/apply')}`);
    expect(await target.apply(mesh())).toMatch(/^applied 2 resource\(s\) \(\{"applied":\[/);
    expect(await target.autoRegisteredEntries()).toEqual([]);
    // Its /metrics carries istiod's names, so the same figures come out.
    const metrics = new TargetMetrics(`${admin}/metrics`);
    await metrics.start();

    const three = startAgents(target.xds, 3);
    expect(await until(() => target.autoRegisteredEntries(), (k) => k?.length === 3)).toEqual(expectedKeys(3));
    await until(async () => three.every((a) => a.visible), (v) => v);
    // Static entries are not auto-registered ones.
    await target.apply(parseManifests('apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: static, namespace: pay }\nspec: { address: 10.9.9.9, labels: { app: app } }\n', 'we.yaml').resources.map((l) => l.resource));
    expect(await target.autoRegisteredEntries()).toEqual(expectedKeys(3));
    // That entry was pushed to the three agents (registrations may all have landed in their first
    // EDS answers, which no push needed); it converges when the last one ACKs.
    await until(async () => (await metrics.sample(), metrics.summary().convergence?.count ?? 0), (c) => c > 0);
    const m = await metrics.finish();
    expect(m.connectedProxies).toEqual({ start: 0, end: 3, peak: 3 });
    expect(m.convergence!.count).toBeGreaterThan(0);
    expect(m.convergence!.p50Ms).toBeGreaterThan(0);
    expect(m.pushesByType!['eds']).toBeGreaterThanOrEqual(3);
    expect(m.failedScrapes).toBe(0);

    // A bad document: the server's answer (curl prints the body) is the error.
    await expect(target.apply(parseManifests('apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: we2, namespace: pay }\nspec: { address: 10.9.9.8 }\n', 'x.yaml').resources.map((l) => ({ ...l.resource, spec: { address: 7 } }) as unknown as Resource))).rejects.toThrow(/apply command .* exited with 22: .*address/s);

    const d = await target.delete(['WorkloadEntry/pay/static']);
    expect(d.result).toMatch(/^deleted 1 \(\{"deleted":\["WorkloadEntry\/pay\/static"\]/);
    const configz = (await (await fetch(`${admin}/debug/configz?kind=WorkloadEntry&namespace=pay`)).json()) as { metadata: { name: string } }[];
    expect(configz.map((c) => c.metadata.name).sort()).toEqual(['app-10.77.0.1', 'app-10.77.0.2', 'app-10.77.0.3']);

    // Agents gone: after the grace period nothing is left (what leakedEntries measures).
    for (const a of agents.splice(0)) a.stop();
    expect(await until(() => target.autoRegisteredEntries(), (k) => k?.length === 0)).toEqual([]);
  }, 40_000);

  it('no debug URL: cannot tell; a URL with no listing: an error', async () => {
    expect(await new RemoteTarget({ address: '127.0.0.1:1' }).autoRegisteredEntries()).toBeUndefined();
    const server = serveProcess(['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0']);
    const ports = await servingPorts(server);
    await expect(new RemoteTarget({ address: '127.0.0.1:1', debugUrl: `http://127.0.0.1:${ports.admin}/nothing` }).autoRegisteredEntries()).rejects.toThrow(/neither \/debug\/configz nor \/workloadentries/);
  });
});

describe('the embedded target', () => {
  it('lists the entries its agents registered from its store', async () => {
    const target = await EmbeddedTarget.start(mesh(), { ...DEFAULT_CONTROL_PLANE, validateIdentity: false, gracePeriodMs: 500 }, pino({ level: 'silent' }));
    try {
      expect(await target.autoRegisteredEntries()).toEqual([]);
      startAgents(target.xds, 4);
      expect(await until(() => target.autoRegisteredEntries(), (k) => k.length === 4)).toEqual(expectedKeys(4));
      for (const a of agents.splice(0)) a.stop();
      expect(await until(() => target.autoRegisteredEntries(), (k) => k.length === 0)).toEqual([]);
    } finally {
      await target.close();
    }
  });
});

describe('target settings', () => {
  it('refuses contradictions and keeps TLS for agents and observers', () => {
    expect(() => new RemoteTarget({ address: 'h:1', applyUrl: 'http://h/apply', applyCommand: 'kubectl apply -f -' })).toThrow(/not both/);
    expect(() => new RemoteTarget({ address: 'h:1', deleteCommand: 'kubectl delete -f -' })).toThrow(/goes with an apply command/);
    expect(() => new RemoteTarget({ address: 'h:1', tls: { certFile: 'c.pem' } })).toThrow(/certificate and key go together/);
    expect(() => new RemoteTarget({ address: 'h:1', metricsUrl: 'not a url' })).toThrow();
    const t = new RemoteTarget({ address: 'istiod.istio-system.svc:15012', tls: { caFile: 'root-cert.pem', sni: 'istiod.istio-system.svc' }, metricsUrl: 'http://istiod:15014/metrics' });
    expect(t.transport).toEqual({ caFile: 'root-cert.pem', sni: 'istiod.istio-system.svc' });
    expect(t.metricsUrl).toBe('http://istiod:15014/metrics');
    expect(t.configRoute).toBeUndefined();
    expect(new RemoteTarget({ address: 'h:1' }).transport).toBeUndefined();
  });

  it('reads auto-registered keys from a config listing', () => {
    expect(
      autoRegisteredKeys([
        { kind: 'WorkloadEntry', metadata: { name: 'b', namespace: 'x', annotations: { 'istio.io/autoRegistrationGroup': 'g' } } },
        { kind: 'WorkloadEntry', metadata: { name: 'a', namespace: 'x' } },
        { kind: 'WorkloadGroup', metadata: { name: 'g', namespace: 'x', annotations: { 'istio.io/autoRegistrationGroup': 'g' } } },
      ]),
    ).toEqual(['WorkloadEntry/x/b']);
    expect(() => autoRegisteredKeys({ items: [] })).toThrow(/JSON list/);
  });
});

const SCENARIO = `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: t }
workloadGroups:
  - apiVersion: networking.istio.io/v1
    kind: WorkloadGroup
    metadata: { name: app, namespace: pay }
    spec: { metadata: { labels: { app: app } }, template: { ports: { http: 8080 } } }
controlPlane:
  target: TARGET
fleet:
  duration: 2s
  agents: [{ group: pay/app, count: 1 }]
`;

describe('controlPlane.target keys', () => {
  it('reads commands, TLS (files relative to the scenario), metrics and debug URLs', async () => {
    const text = SCENARIO.replace(
      'TARGET',
      `{ address: "istiod:15012", applyCommand: "kubectl apply -f -", deleteCommand: "kubectl delete -f -", commandTimeout: 90s, tls: { caFile: root-cert.pem, serverName: istiod.istio-system.svc }, metricsUrl: "http://istiod:15014/metrics", debugUrl: "http://istiod:15014" }`,
    );
    const ok = await parseScenario(text, 'scenarios/x/t.yaml');
    expect(ok.diagnostics).toEqual([]);
    expect(ok.scenario!.controlPlane.target).toEqual({
      address: 'istiod:15012',
      applyCommand: 'kubectl apply -f -',
      deleteCommand: 'kubectl delete -f -',
      commandTimeoutMs: 90_000,
      tls: { caFile: 'scenarios/x/root-cert.pem', sni: 'istiod.istio-system.svc' },
      metricsUrl: 'http://istiod:15014/metrics',
      debugUrl: 'http://istiod:15014',
    });
  });

  it('contradictions and bad values are errors at their keys', async () => {
    const bad = async (t: string) => {
      const r = await parseScenario(SCENARIO.replace('TARGET', t), 't.yaml');
      expect(r.scenario).toBeUndefined();
      return r.diagnostics.map((d) => `${d.path ?? ''} ${d.message}`).join('\n');
    };
    expect(await bad('{ address: "h:1", applyUrl: "http://h/apply", applyCommand: "kubectl apply -f -" }')).toMatch(/applyCommand.*give applyUrl or applyCommand, not both/);
    expect(await bad('{ address: "h:1", applyUrl: "http://h/apply", deleteCommand: "kubectl delete -f -" }')).toMatch(/deleteCommand.*goes with applyCommand/);
    expect(await bad('{ address: "h:1", tls: { certFile: c.pem } }')).toMatch(/tls.*certFile and keyFile go together/);
    expect(await bad('{ address: "h:1", metricsUrl: "istiod:15014/metrics" }')).toMatch(/metricsUrl.*http\(s\) URL/);
    // An unknown key is a warning, as everywhere in a scenario.
    const typo = await parseScenario(SCENARIO.replace('TARGET', '{ address: "h:1", tls: { caFil: x.pem } }'), 't.yaml');
    expect(typo.diagnostics.map((d) => [d.severity, d.message])).toEqual([['warning', expect.stringMatching(/unknown field.*caFile/)]]);
  });
});

function xdsim(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(import.meta.dirname, '../../bin/xdsim.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('xdsim run target flags', () => {
  it('bad combinations exit 2 before anything runs', { timeout: 60_000 }, async () => {
    const f = path.join(dir, 's.yaml');
    writeFileSync(f, SCENARIO.replace('  target: TARGET\n', '  gracePeriod: 1s\n'));
    const cases: [string[], RegExp][] = [
      [['--metrics-url', 'http://h:15014/metrics'], /go with --target \(or a scenario with controlPlane\.target\)/],
      [['--target', 'h:1', '--apply-url', 'http://h/apply', '--apply-command', 'kubectl apply -f -'], /--apply-url and --apply-command: one or the other/],
      [['--target', 'h:1', '--delete-command', 'kubectl delete -f -'], /a delete command goes with an apply command/],
      [['--target', 'h:1', '--tls-ca', path.join(dir, 'none.pem')], /--tls-ca: no such file: /],
      [['--target', 'h:1', '--tls-cert', f], /--tls-cert and --tls-key go together/],
      [['--target', 'h:1', '--debug-url', 'h:15014'], /--debug-url: expected an http\(s\) URL/],
      [['--target', 'h:1', '--apply-command', 'kubectl apply -f -', '--command-timeout', '5 s'], /--command-timeout: expected a duration/],
    ];
    const results = await Promise.all(cases.map(([args]) => xdsim(['run', f, '--no-progress', ...args])));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });
});

describe('TLS to the target', () => {
  it("the target's transport gets an observer through mTLS to a server named as istiod is, and nothing less does", { timeout: 60_000 }, async () => {
    const f = (n: string) => path.join(dir, n);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=xdsim-test-ca');
    // The server's certificate names istiod's service, not the address connected to.
    writeFileSync(f('server.cnf'), 'subjectAltName=DNS:istiod.istio-system.svc\n');
    writeFileSync(f('client.cnf'), 'subjectAltName=DNS:vm\n');
    for (const who of ['server', 'client']) {
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${who}`);
      openssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.pem`), '-days', '1', '-extfile', f(`${who}.cnf`));
    }
    const meshFile = f('mesh.yaml');
    writeFileSync(meshFile, MESH);
    const server = serveProcess(['-f', meshFile, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--tls-cert', f('server.pem'), '--tls-key', f('server.key'), '--client-ca', f('ca.pem')]);
    const ports = await servingPorts(server);
    const cluster = 'outbound|80||app.pay.svc.cluster.local';
    const observe = async (t: RemoteTarget): Promise<number> => {
      const obs = new Observers({
        xds: t.xds,
        ...(t.transport ? { credentials: channelCredentials(t.transport), channelOptions: tlsChannelOptions(t.transport) } : {}),
      });
      obs.add(cluster, endpointsProxy(cluster));
      try {
        return (await obs.start(3000)).ready;
      } finally {
        obs.stop();
      }
    };
    const address = `127.0.0.1:${ports.xds}`;
    const tls = { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key'), sni: 'istiod.istio-system.svc' };
    expect(await observe(new RemoteTarget({ address, tls }))).toBe(1);
    // Plaintext, the wrong name, no client certificate: no answer.
    expect(await observe(new RemoteTarget({ address }))).toBe(0);
    expect(await observe(new RemoteTarget({ address, tls: { ...tls, sni: 'other.example' } }))).toBe(0);
    expect(await observe(new RemoteTarget({ address, tls: { caFile: tls.caFile, sni: tls.sni } }))).toBe(0);
  });
});
