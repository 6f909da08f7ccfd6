import { describe, expect, it } from 'vitest';
import { workloadFromEntry } from '../../src/model/workload.js';
import { localityString, localityMatches, parseLocality, proximityPriority } from '../../src/model/locality.js';
import { we } from '../helpers/mesh.js';

describe('WorkloadEntry -> workload (SPEC §2)', () => {
  it.each([
    ['spec.locality wins over labels', we('a', { address: '1.1.1.1', locality: 'r/z/s', labels: { 'topology.istio.io/locality': 'x.y.z' } }), 'r/z/s'],
    ['topology.istio.io/locality label, dots become slashes', we('a', { address: '1.1.1.1', labels: { 'topology.istio.io/locality': 'x.y.z' } }), 'x/y/z'],
    ['istio-locality label as a fallback', we('a', { address: '1.1.1.1', labels: { 'istio-locality': 'x.y' } }), 'x/y/'],
    ['metadata label counts too', we('a', { address: '1.1.1.1' }, { labels: { 'istio-locality': 'm' } }), 'm//'],
    ['region only', we('a', { address: '1.1.1.1', locality: 'r' }), 'r//'],
    ['none', we('a', { address: '1.1.1.1' }), '//'],
  ])('locality: %s', (_name, entry, want) => {
    expect(localityString(workloadFromEntry(entry).locality)).toBe(want);
  });

  it.each([
    [undefined, 1],
    [0, 1],
    [7, 7],
    [4294967295, 4294967295],
  ])('weight %s -> %s', (weight, want) => {
    expect(workloadFromEntry(we('a', { address: '1.1.1.1', weight })).weight).toBe(want);
  });

  it('merges spec.labels with metadata.labels, metadata winning', () => {
    const w = workloadFromEntry(we('a', { address: '1.1.1.1', labels: { app: 'x', v: 'spec' } }, { labels: { v: 'meta', m: '1' } }));
    expect(w.labels).toEqual({ app: 'x', v: 'meta', m: '1' });
  });

  it('adds topology labels for failoverPriority without overriding given ones', () => {
    const w = workloadFromEntry(we('a', { address: '1.1.1.1', locality: 'r/z/s', network: 'n1', labels: { 'topology.kubernetes.io/zone': 'mine' } }));
    expect(w.priorityLabels).toMatchObject({
      'topology.kubernetes.io/region': 'r',
      'topology.kubernetes.io/zone': 'mine',
      'topology.istio.io/subzone': 's',
      'topology.istio.io/network': 'n1',
      'topology.istio.io/cluster': 'Kubernetes',
    });
  });

  it.each([
    ['no annotation, no condition', undefined, undefined, false],
    ['annotation, Healthy True', 'true', 'True', false],
    ['annotation, Healthy False', 'true', 'False', true],
    ['annotation without any condition counts as not healthy', 'true', undefined, true],
    ['condition False without the annotation is ignored', undefined, 'False', false],
    ['annotation "false" means not health-checked', 'false', 'False', false],
  ])('health: %s', (_n, annotation, status, unhealthy) => {
    const e = we('a', { address: '1.1.1.1' }, { annotations: annotation ? { 'proxy.istio.io/health-checks-enabled': annotation } : {} });
    if (status) e.status = { conditions: [{ type: 'Healthy', status: status as 'True' | 'False' }] };
    expect(workloadFromEntry(e).unhealthy).toBe(unhealthy);
  });
});

describe('locality matching (Istio LocalityMatch / LbPriority)', () => {
  it.each([
    ['r/z/s', 'r', true],
    ['r/z/s', 'r/*', true],
    ['r/z/s', 'r/z/*', true],
    ['r/z/s', 'r/z/s', true],
    ['r/z/s', '*', true],
    ['r/z/s', 'r/other', false],
    ['r/z/s', 'x/*', false],
    ['r/z/s', '', false],
    ['r//', 'r/z', false],
  ])('%s matches %s: %s', (loc, pattern, want) => {
    expect(localityMatches(parseLocality(loc), pattern)).toBe(want);
  });

  it.each([
    ['r/z/s', 'r/z/s', 0],
    ['r/z/s', 'r/z/t', 1],
    ['r/z/s', 'r/y/s', 2],
    ['r/z/s', 'q/z/s', 3],
    ['', '', 0],
    ['r', 'r/z/s', 2],
  ])('proximity %s -> %s = %s', (p, e, want) => {
    expect(proximityPriority(parseLocality(p), parseLocality(e))).toBe(want);
  });
});
