// A scenario against a control plane at an address: a second xdsim (`xdsim serve`, the real
// bin) gets the scenario's mesh and the timeline's config over its admin API (POST /apply,
// /delete); agents and observers reach it over xDS only. Registered counts come from what the
// agents see in EDS, shares from the observers, and a zone goes unhealthy through its agents'
// probes (health reports over xDS), not through the server's store.
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';
import { deleteUrlOf, toYaml } from '../../src/scenario/target.js';
import { killAll, serveProcess, servingPorts } from '../helpers/serve-process.js';

const TEXT = `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: remote }
mesh:
  manifests:
    - apiVersion: v1
      kind: Service
      metadata: { name: app, namespace: pay }
      spec: { selector: { app: app }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
    - apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: { name: app, namespace: pay }
      spec:
        host: app.pay.svc.cluster.local
        trafficPolicy:
          outlierDetection: { consecutive5xxErrors: 5, interval: 10s }
          loadBalancer:
            localityLbSetting: { enabled: true, failover: [{ from: us-east, to: us-west }] }
workloadGroups:
  - apiVersion: networking.istio.io/v1
    kind: WorkloadGroup
    metadata: { name: app, namespace: pay }
    spec:
      metadata: { labels: { app: app } }
      template: { ports: { http: 8080 } }
      probe: { periodSeconds: 1, tcpSocket: { port: 8080 } }
controlPlane: { gracePeriod: 1s }
fleet:
  duration: 10s
  agents:
    - group: pay/app
      count: 12
      localities: [us-east/1a/r1, us-east/1b/r1, us-west/2a/r1]
timeline:
  - at: 3200ms
    unhealthy: { locality: us-east/1a }
  - at: 5600ms
    healthy: { locality: us-east/1a, agents: 3 }
  - at: 7500ms
    delete: [DestinationRule/pay/app, DestinationRule/pay/nope]
  - at: 8600ms
    apply: { apiVersion: networking.istio.io/v1, kind: WorkloadEntry, metadata: { name: static, namespace: pay }, spec: { address: 10.9.9.9, labels: { app: app }, locality: us-west/2a/r1 } }
expectations:
  - registered: all
    at: 3s
  - name: local first
    at: 3s
    lbShares:
      cluster: outbound|80||app.pay.svc.cluster.local
      proxy: { locality: us-east/1a/r1 }
      localities: { us-east/1a: 100% }
  - name: zone down (its agents' probes fail), the rest of us-east
    at: 5500ms
    lbShares:
      cluster: outbound|80||app.pay.svc.cluster.local
      proxy: { locality: us-east/1a/r1 }
      localities: { us-east/1b: 100% }
  - name: 3 of the zone's 4 agents healthy again
    at: 7400ms
    endpoints: { cluster: outbound|80||app.pay.svc.cluster.local, equals: 11 }
  - name: no rule, no locality preference
    at: 8500ms
    lbShares:
      cluster: outbound|80||app.pay.svc.cluster.local
      proxy: { locality: us-east/1a/r1 }
      localities: { us-east/1a: 27.3%, us-west: 36.4% }
  # 11 healthy agents and the static entry.
  - name: the static entry is an endpoint too
    endpoints: { cluster: outbound|80||app.pay.svc.cluster.local, equals: 12 }
  - nacks: 0
  - errors: 0
`;

afterAll(() => killAll());

describe('remote target', () => {
  it('delete URL next to the apply URL; YAML of many documents', () => {
    expect(deleteUrlOf('http://h:1/apply')).toBe('http://h:1/delete');
    expect(deleteUrlOf('http://h:1/x/apply/')).toBe('http://h:1/x/delete');
    expect(deleteUrlOf('http://h:1/config')).toBe('http://h:1/config/delete');
    expect(toYaml([{ kind: 'A' }, { kind: 'B' }])).toBe('kind: A\n---\nkind: B\n');
  });

  it('controlPlane.target in the scenario: read, the token file resolved from the scenario\'s directory; bad values are errors', async () => {
    const withTarget = TEXT.replace('controlPlane: { gracePeriod: 1s }', 'controlPlane: { target: { address: "10.1.2.3:15010", applyUrl: "http://10.1.2.3:15014/apply", tokenFile: token.jwt, name: staging } }');
    const ok = await parseScenario(withTarget, 'scenarios/x/remote.yaml');
    expect(ok.diagnostics).toEqual([]);
    expect(ok.scenario!.controlPlane.target).toEqual({ address: '10.1.2.3:15010', applyUrl: 'http://10.1.2.3:15014/apply', tokenFile: 'scenarios/x/token.jwt', name: 'staging' });
    const bad = await parseScenario(TEXT.replace('controlPlane: { gracePeriod: 1s }', 'controlPlane: { target: { address: nope, applyUrl: ftp://x } }'), 'bad.yaml');
    expect(bad.scenario).toBeUndefined();
    expect(bad.diagnostics.map((d) => d.message).join('\n')).toMatch(/host:port/);
  });

  it('runs a scenario against a second xdsim through its xDS port and admin API', async () => {
    const server = serveProcess(['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--grace-period', '1s', '--log-level', 'info']);
    const ports = await servingPorts(server);
    const loaded = await parseScenario(TEXT, 'test/remote.yaml');
    expect(loaded.diagnostics).toEqual([]);
    const events: string[] = [];
    const report = await runScenario(loaded.scenario!, {
      target: { address: `127.0.0.1:${ports.xds}`, applyUrl: `http://127.0.0.1:${ports.admin}/apply`, name: 'second xdsim' },
      workers: 1,
      logLevel: 'silent',
      onEvent: (l) => events.push(l),
    });
    expect(report.target).toEqual({ kind: 'remote', name: 'second xdsim', xds: `127.0.0.1:${ports.xds}` });
    expect(report.expectations.map((e) => [e.name, e.pass, e.detail])).toEqual([
      ['registered >= 12', true, 'registered entries: 12 (>= 12)'],
      ['local first', true, expect.stringContaining('us-east/1a 100.0%')],
      ['zone down (its agents\' probes fail), the rest of us-east', true, expect.stringContaining('us-east/1b 100.0%')],
      ['3 of the zone\'s 4 agents healthy again', true, expect.stringContaining('11')],
      ['no rule, no locality preference', true, expect.stringContaining('us-east/1a 27.3%')],
      ['the static entry is an endpoint too', true, expect.stringContaining('12')],
      ['nacks <= 0', true, expect.any(String)],
      ['errors <= 0', true, expect.any(String)],
    ]);
    expect(report.timeline.map((t) => [t.result, t.ok])).toEqual([
      ["pay/app: 4 agent(s)' probes fail from their next period", true],
      ["pay/app: 3 agent(s)' probes pass from their next period", true],
      ['deleted 1; not found: DestinationRule/pay/nope', true],
      ['applied 1 resource(s), 1 changed', true],
    ]);
    expect(report.notes.find((n) => n.startsWith('target second xdsim:'))).toMatch(/^target second xdsim: the scenario's mesh and groups \(POST http:\/\/127\.0\.0\.1:\d+\/apply\): applied 3 resource\(s\), 3 changed$/);
    // Seen from the agents: one of them is still failing its probe, so out of EDS.
    expect(report.agents.registered).toBe(11);
    expect(report.agents.registeredPeak).toBe(12);
    // The server really holds what the scenario applied and registered.
    const configz = await (await fetch(`http://127.0.0.1:${ports.admin}/debug/configz?kind=WorkloadEntry&namespace=pay`)).text();
    expect(configz).toContain('10.9.9.9');
  }, 60_000);
});
