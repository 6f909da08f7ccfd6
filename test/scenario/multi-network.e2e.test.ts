// scenarios/multi-network.yaml run for real (split horizon through an east-west gateway Service,
// then the gateway deleted), and a scenario's controlPlane.meshNetworks checked with file:line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/diagnostics.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';

const DIR = join(import.meta.dirname, '../../scenarios');
const tmp = mkdtempSync(join(tmpdir(), 'xdsim-mn-scenario-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('multi-network scenario', () => {
  it('multi-network.yaml: gateway-folded shares from the cluster, direct ones from a VM, and what istiod does once the gateway is gone', async () => {
    const { scenario, diagnostics } = await loadScenario(join(DIR, 'multi-network.yaml'));
    expect(diagnostics.filter((d) => d.severity !== 'unused')).toEqual([]);
    expect(Object.keys(scenario!.controlPlane.meshNetworks!.networks)).toEqual(['network1', 'vm-network']);
    const report = await runScenario(scenario!, { logLevel: 'silent' });
    expect(report.expectations.map((e) => [e.name, e.pass])).toEqual([
      ['every VM registered', true],
      ['from the cluster, vm-network through its gateway (one host of weight 12), the sidecar-less VMs left out', true],
      ["a VM sees every endpoint directly, its own network's and network1's (no gateway)", true],
      ['gateway gone, no split horizon any more; every endpoint directly from the cluster, the legacy VMs included', true],
      ['no NACKs', true],
    ]);
  }, 90_000);

  it('controlPlane.meshNetworks errors name the scenario file and line', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(
      file,
      `apiVersion: xdsim.io/v1alpha1
kind: Scenario
metadata: { name: bad }
controlPlane:
  meshNetworks:
    networks:
      vm:
        endpoints: [{ fromCidr: 10.0.0.0/99 }]
        gateways:
          - { address: 192.0.2.1, port: 0 }
fleet:
  duration: 1s
  agents: [{ group: ns/g, count: 1 }]
`,
    );
    const errors = async () =>
      (await loadScenario(file)).diagnostics.filter((d) => d.severity === 'error' && d.path?.startsWith('controlPlane')).map(formatDiagnostic);
    expect(await errors()).toEqual([`${file}:10 Scenario bad controlPlane.meshNetworks.networks.vm.gateways[0].port: expected an integer 1..65535, got 0`]);
    // Once the schema holds, istiod's own checks.
    writeFileSync(file, readFileSync(file, 'utf8').replace('port: 0', 'port: 15443'));
    expect(await errors()).toEqual([`${file}:8 Scenario bad controlPlane.meshNetworks.networks.vm.endpoints[0].fromCidr: expected a CIDR such as 10.0.0.0/16, got "10.0.0.0/99"`]);
  });
});
