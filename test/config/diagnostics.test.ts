import { describe, expect, it } from 'vitest';
import { countBySeverity, formatDiagnostic, formatPath, hasErrors, type Diagnostic } from '../../src/config/diagnostics.js';

const base: Diagnostic = {
  severity: 'error',
  file: 'mesh.yaml',
  line: 18,
  document: 1,
  kind: 'WorkloadEntry',
  name: 'pay/we-bad',
  path: 'spec.weight',
  message: 'expected an integer 0..4294967295, got "heavy"',
};

describe('formatDiagnostic', () => {
  it.each<[string, Partial<Diagnostic>, string]>([
    ['error in document 1', {}, 'mesh.yaml:18 WorkloadEntry pay/we-bad spec.weight: expected an integer 0..4294967295, got "heavy"'],
    ['later document', { document: 3 }, 'mesh.yaml:18 (document 3) WorkloadEntry pay/we-bad spec.weight: expected an integer 0..4294967295, got "heavy"'],
    ['warning', { severity: 'warning', path: 'spec.wieght', message: 'unknown field, ignored' }, 'mesh.yaml:18 WorkloadEntry pay/we-bad spec.wieght: warning: unknown field, ignored'],
    ['unused', { severity: 'unused', kind: 'Gateway', name: 'pay/gw', path: undefined, message: 'not used by xdsim' }, 'mesh.yaml:18 Gateway pay/gw: not used by xdsim'],
    ['no subject', { kind: undefined, name: undefined, path: undefined, message: 'YAML: bad' }, 'mesh.yaml:18: YAML: bad'],
  ])('%s', (_label, patch, expected) => {
    expect(formatDiagnostic({ ...base, ...patch })).toBe(expected);
  });
});

describe('formatPath', () => {
  it.each<[(string | number)[], string]>([
    [['spec', 'weight'], 'spec.weight'],
    [['spec', 'ports', 0, 'number'], 'spec.ports[0].number'],
    [['metadata', 'labels', 'topology.istio.io/locality'], 'metadata.labels["topology.istio.io/locality"]'],
    [['spec', 'ports', 'http-alt'], 'spec.ports.http-alt'],
    [[], ''],
  ])('%j -> %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});

it('counts and detects errors', () => {
  const ds: Diagnostic[] = [base, { ...base, severity: 'warning' }, { ...base, severity: 'unused' }, { ...base, severity: 'unused' }];
  expect(countBySeverity(ds)).toEqual({ error: 1, warning: 1, unused: 2 });
  expect(hasErrors(ds)).toBe(true);
  expect(hasErrors(ds.slice(1))).toBe(false);
});
