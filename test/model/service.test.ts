import { describe, expect, it } from 'vitest';
import { mesh, se, summarize, svc, we } from '../helpers/mesh.js';

const entry = we('vm1', { address: '10.0.0.1', labels: { app: 'a' }, ports: { http: 8080, grpc: 9090 } });

describe('Kubernetes Service port mapping (istiod findServiceTargetPort / serviceInstanceFromWorkloadInstance)', () => {
  it.each([
    ['numeric targetPort, no entry port of the service port name: targetPort', { name: 'web', port: 80, targetPort: 7000 }, ['10.0.0.1:7000']],
    ['numeric targetPort, entry port named like the service port: that port wins', { name: 'http', port: 80, targetPort: 7000 }, ['10.0.0.1:8080']],
    ['named targetPort looked up in WorkloadEntry.ports', { name: 'web', port: 80, targetPort: 'grpc' }, ['10.0.0.1:9090']],
    ['named targetPort missing from the entry: skipped', { name: 'web', port: 80, targetPort: 'admin' }, []],
    ['a numeric string targetPort is a name too: skipped when no entry port has it', { name: 'web', port: 80, targetPort: '7000' }, []],
    ['unset targetPort (defaulted to the port): the service port', { name: 'web', port: 80 }, ['10.0.0.1:80']],
    ['unset targetPort, entry port named like the service port: that port', { name: 'http', port: 80 }, ['10.0.0.1:8080']],
  ])('%s', (_n, port, want) => {
    const { eds } = mesh([entry, svc('a', { app: 'a' }, [port])]);
    const lines = summarize(eds, `outbound|${port.port}||a.pay.svc.cluster.local`);
    const addrs = lines.flatMap((l) => l.replace(/.*\[(.*)\]/, '$1').split(',').filter(Boolean));
    expect(addrs).toEqual(want);
  });
});

describe('ServiceEntry port mapping and selection (SPEC §3)', () => {
  it.each([
    ['entry port of the same name', { number: 80, name: 'http', targetPort: 7000 }, ['10.0.0.1:8080']],
    ['else targetPort', { number: 80, name: 'admin', targetPort: 7000 }, ['10.0.0.1:7000']],
    ['else the port number', { number: 80, name: 'admin' }, ['10.0.0.1:80']],
  ])('%s', (_n, port, want) => {
    const { eds } = mesh([entry, se('a', { hosts: ['a.example.com'], ports: [port], workloadSelector: { labels: { app: 'a' } }, resolution: 'STATIC' })]);
    const lines = summarize(eds, 'outbound|80||a.example.com');
    expect(lines.flatMap((l) => l.replace(/.*\[(.*)\]/, '$1').split(',').filter(Boolean))).toEqual(want);
  });

  it('inline endpoints are endpoints too, with their labels, locality and weight', () => {
    const { eds } = mesh([
      se('ext', {
        hosts: ['db.example.com'],
        ports: [{ number: 5432, name: 'pg' }],
        resolution: 'STATIC',
        endpoints: [
          { address: '192.168.0.1', locality: 'r/z1', weight: 3 },
          { address: '192.168.0.2', locality: 'r/z2', ports: { pg: 6432 } },
        ],
      }),
    ]);
    expect(summarize(eds, 'outbound|5432||db.example.com')).toEqual([
      'r/z1/ p0 w3 [192.168.0.1:5432*3]',
      'r/z2/ p0 w1 [192.168.0.2:6432]',
    ]);
  });

  it('a ServiceEntry with one cluster per host', () => {
    const { registry } = mesh([se('m', { hosts: ['a.x', 'b.x'], ports: [{ number: 1, name: 'p' }], resolution: 'STATIC' })]);
    expect(registry.clusterNames()).toEqual(['outbound|1||a.x', 'outbound|1||b.x']);
  });

  it('DNS-resolved ServiceEntries make no EDS cluster', () => {
    const { registry } = mesh([se('m', { hosts: ['a.x'], ports: [{ number: 1, name: 'p' }], resolution: 'DNS' })]);
    expect(registry.clusterNames()).toEqual([]);
  });
});

describe('selection (SPEC §3)', () => {
  it('a Service picks entries in its own namespace only, by selector subset of labels', () => {
    const { eds } = mesh([
      we('in', { address: '10.0.0.1', labels: { app: 'a', extra: 'x' } }),
      we('other-ns', { address: '10.0.0.2', labels: { app: 'a' } }, { namespace: 'other' }),
      we('wrong-label', { address: '10.0.0.3', labels: { app: 'b' } }),
      we('metadata-label', { address: '10.0.0.4' }, { labels: { app: 'a' } }),
      svc('a', { app: 'a' }, [{ name: 'http', port: 80 }]),
    ]);
    expect(summarize(eds, 'outbound|80||a.pay.svc.cluster.local')).toEqual(['// p0 w2 [10.0.0.1:80,10.0.0.4:80]']);
  });

  it('headless services and services without selector get no EDS cluster', () => {
    const headless = svc('h', { app: 'a' }, [{ port: 80 }]);
    headless.spec.clusterIP = 'None';
    const { registry } = mesh([headless, svc('n', {}, [{ port: 80 }])]);
    expect(registry.clusterNames()).toEqual([]);
  });

  it('entries without an address are skipped', () => {
    const { eds } = mesh([we('x', { labels: { app: 'a' } }), svc('a', { app: 'a' }, [{ port: 80 }])]);
    expect(summarize(eds, 'outbound|80||a.pay.svc.cluster.local')).toEqual([]);
  });
});
