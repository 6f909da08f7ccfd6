// Client-side convergence from the agents' notes: the tracker fed with real encoded
// ClusterLoadAssignments, and the per-change figures put together across workers.
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/proto/index.js';
import { changeConvergence, mergePropagation, PropagationTracker, type TrackedAgent } from '../../src/fleet/propagation.js';

function cla(cluster: string, ips: string[]): Uint8Array {
  return encode('ClusterLoadAssignment', {
    cluster_name: cluster,
    endpoints: [{ locality: { region: 'r1' }, lb_endpoints: ips.map((ip) => ({ endpoint: { address: { socket_address: { address: ip, port_value: 8080 } } } })) }],
  });
}

class FakeAgent implements TrackedAgent {
  readonly held = new Map<string, number>();
  present: string[] = [];
  stream: number | undefined = 0;
  constructor(
    readonly key: string,
    readonly ip: string,
  ) {}
  clustersPresent(): string[] {
    return this.present;
  }
  clusterSince(c: string): number | undefined {
    return this.held.get(c);
  }
  heldClusters(): Iterable<[string, number]> {
    return this.held.entries();
  }
  streamSince(): number | undefined {
    return this.stream;
  }
  /** Receives a CLA the way Agent's tap reports it. */
  receive(t: PropagationTracker, cluster: string, ips: string[], at: number): void {
    const first = !this.held.has(cluster);
    if (first) this.held.set(cluster, at);
    t.endpoints(this, cluster, cla(cluster, ips), at, first);
    t.response(this, at);
  }
}

const C = 'outbound|80||vm.ns.svc.cluster.local';
const OTHER = 'outbound|80||other.ns.svc.cluster.local';

describe('propagation of an endpoint leaving EDS', () => {
  it('times the change from the report to the last subscriber holding it', () => {
    const all = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    const a = new FakeAgent('a', '10.0.0.1');
    const b = new FakeAgent('b', '10.0.0.2');
    const c = new FakeAgent('c', '10.0.0.3');
    const t = new PropagationTracker(() => true);
    // Initial state at 100 for every agent, and another cluster too.
    for (const x of [a, b, c]) {
      x.receive(t, C, all, 100);
      x.receive(t, OTHER, ['10.9.0.1'], 100);
    }
    a.present = [C];
    t.watch([{ id: 'h1', kind: 'health', ip: a.ip, present: false }], [a, b, c]);
    // An unrelated push before the report is no sighting of the change.
    b.receive(t, OTHER, ['10.9.0.1', '10.9.0.2'], 900);
    t.healthReported(a, false, 1000);
    a.receive(t, C, ['10.0.0.2', '10.0.0.3'], 1150);
    b.receive(t, C, ['10.0.0.2', '10.0.0.3'], 1200);
    c.receive(t, C, ['10.0.0.2', '10.0.0.3'], 1420);
    const [r] = changeConvergence(t.record([a, b, c]));
    expect(r).toEqual({ id: 'h1', kind: 'health', at: 1000, subscribers: 3, reached: 3, ms: 420 });
  });

  it('leaves out agents that joined after the change and counts the ones never reached', () => {
    const a = new FakeAgent('a', '10.0.0.1');
    const b = new FakeAgent('b', '10.0.0.2');
    const late = new FakeAgent('late', '10.0.0.9');
    const t = new PropagationTracker(() => true);
    for (const x of [a, b]) x.receive(t, C, ['10.0.0.1', '10.0.0.2'], 100);
    a.present = [C];
    t.watch([{ id: 'h1', kind: 'health', ip: a.ip, present: false }], [a, b]);
    t.healthReported(a, false, 1000);
    a.receive(t, C, ['10.0.0.2'], 1100);
    // Joins at 2000 and gets the new state as its initial copy: not a subscriber of the change.
    late.receive(t, C, ['10.0.0.2'], 2000);
    const [r] = changeConvergence(t.record([a, b, late]));
    expect(r).toMatchObject({ subscribers: 2, reached: 1, ms: 100 });
  });
});

describe('propagation of a registration across workers', () => {
  it('starts at the healthy report and merges sightings from every worker', () => {
    const watch = { id: 'r1', kind: 'registration' as const, ip: '10.0.0.7', present: true };
    const w1 = new PropagationTracker(() => true);
    const w2 = new PropagationTracker(() => true);
    w1.watch([watch], []);
    w2.watch([watch], []);
    const newcomer = new FakeAgent('new', '10.0.0.7');
    const old1 = new FakeAgent('o1', '10.0.0.1');
    const old2 = new FakeAgent('o2', '10.0.0.2');
    old1.receive(w1, C, ['10.0.0.1', '10.0.0.2'], 50);
    old2.receive(w2, C, ['10.0.0.1', '10.0.0.2'], 60);
    w1.started(newcomer, 500);
    // Health-checked: it becomes an endpoint when its agent reports healthy.
    w1.healthReported(newcomer, true, 3000);
    newcomer.receive(w1, C, ['10.0.0.1', '10.0.0.2', '10.0.0.7'], 3100);
    newcomer.present = [C];
    old1.receive(w1, C, ['10.0.0.1', '10.0.0.2', '10.0.0.7'], 3120);
    old2.receive(w2, C, ['10.0.0.1', '10.0.0.2', '10.0.0.7'], 3250);
    const merged = mergePropagation([w1.record([newcomer, old1]), w2.record([old2])]);
    const [r] = changeConvergence(merged);
    // The newcomer's own first copy is its initial state: the subscribers are the two old agents.
    expect(r).toEqual({ id: 'r1', kind: 'registration', at: 3000, subscribers: 2, reached: 2, ms: 250 });
  });
});

describe('propagation of a config change', () => {
  it('times each connected agent\'s next response', () => {
    const a = new FakeAgent('a', '10.0.0.1');
    const b = new FakeAgent('b', '10.0.0.2');
    const later = new FakeAgent('later', '10.0.0.3');
    a.stream = 10;
    b.stream = 20;
    later.stream = 5000;
    const t = new PropagationTracker(() => true);
    t.watch([{ id: 'c1', kind: 'config', at: 1000 }], [a, b, later]);
    t.response(a, 1080);
    t.response(a, 1500);
    t.response(b, 1300);
    expect(changeConvergence(t.record([a, b]))).toEqual([{ id: 'c1', kind: 'config', at: 1000, subscribers: 2, reached: 2, ms: 300 }]);
  });

  it('only measures the agents taking part', () => {
    const a = new FakeAgent('a', '10.0.0.1');
    const b = new FakeAgent('b', '10.0.0.2');
    const t = new PropagationTracker((x) => x.key === 'a');
    t.watch([{ id: 'c1', kind: 'config', at: 1000 }], [a, b]);
    t.response(a, 1100);
    t.response(b, 1900);
    expect(changeConvergence(t.record([a, b]))[0]).toMatchObject({ subscribers: 1, ms: 100 });
  });
});
