// Identity validation end to end (istiod's ensureProxyCanControlEntry, on by default): the
// shipped scenarios load with it on, and scenarios/identity.yaml, run for real, registers the
// agents holding the template's service account and none of the ones with another.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';

const DIR = join(import.meta.dirname, '../../scenarios');

describe('shipped scenarios and identity validation', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.yaml')))('%s loads, with validation on', async (f) => {
    const r = await loadScenario(join(DIR, f));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.scenario?.controlPlane.validateIdentity).toBe(true);
  });

  it('identity.yaml: the wrong service account is refused, the right one registers', async () => {
    const { scenario } = await loadScenario(join(DIR, 'identity.yaml'));
    const report = await runScenario(scenario!, { logLevel: 'silent' });
    expect(report.expectations.filter((e) => !e.pass)).toEqual([]);
    expect(report.agents.registered).toBe(40);
    // The intruders' refused attempts are the run's errors.
    expect(report.errors).toBeGreaterThan(0);
  }, 90_000);
});
