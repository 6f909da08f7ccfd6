// Invalid auto-registration metadata through the real gRPC server on loopback: the stream ends
// with INVALID_ARGUMENT naming the rule before any response, it is counted, each kind is logged
// once, nothing is registered, and the entry of a valid agent with the same identity is untouched.
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { WorkloadEntry } from '../../src/config/resources.js';
import { TYPE_URL } from '../../src/proto/index.js';
import { API, apiMesh, vmGroup } from '../xds/fixtures.js';
import { node, planePerTest, rejectedCount, SotwClient, startPlane, waitFor } from '../xds/helpers.js';

const scope = planePerTest();

const group = vmGroup;

function agent(metadata: Record<string, unknown>, locality = 'r1/z1/s1'): SotwClient {
  const c = new SotwClient(scope.plane!.xdsPort);
  scope.cleanups.push(() => c.close());
  c.send({ node: node('sidecar~10.50.0.1~vm.pay~pay.svc.cluster.local', locality, { NAMESPACE: 'pay', ...metadata }), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
  return c;
}

const rejected = (reason: string): Promise<number> => rejectedCount(scope.plane!, reason);

/** The stream's end, and whether any response came before it. */
async function refusal(c: SotwClient): Promise<{ status: grpc.StatusObject; responses: number }> {
  const status = await Promise.race([c.status, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('stream not closed')), 5000))]);
  let responses = 0;
  while (!(await c.none(1))) responses++;
  return { status, responses };
}

describe('invalid auto-registration metadata over gRPC', () => {
  it('is refused with INVALID_ARGUMENT, counted, logged once per kind; valid agents and entries unaffected', async () => {
    const lines: { kind?: string; msg: string; rule?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    scope.plane = await startPlane([...apiMesh(), group], { logger });

    // A valid agent registers and is served.
    const good = agent({ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: '10.50.0.1', LABELS: { version: 'v1' } });
    expect((await good.recv(5000)).resources).toHaveLength(1);
    const key = 'WorkloadEntry/pay/vm-10.50.0.1';
    await waitFor(() => scope.plane!.store.get(key), 3000, 'the valid entry');
    const before = scope.plane!.store.get<WorkloadEntry>(key)!;

    const cases: [Record<string, unknown>, RegExp][] = [
      [{ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: 'not-an-ip' }, /^invalid auto-registration metadata: INSTANCE_IPS\[0\] "not-an-ip" is not an IPv4 or IPv6 address$/],
      [{ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: Array.from({ length: 5000 }, (_, i) => `10.60.${i >> 8}.${i & 255}`).join(',') }, /INSTANCE_IPS has more than 16 addresses/],
      // The same identity as the valid agent: group, IP, namespace, network.
      [{ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: '10.50.0.1', LABELS: { 'bad key': 'x' } }, /LABELS key "bad key": name part must consist of/],
      [{ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: '10.50.0.1', LABELS: { version: 'v'.repeat(64) } }, /LABELS\["version"\] value "v+": must be no more than 63 characters/],
      [{ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: '10.50.0.2', LABELS: { app: { nested: true } } }, /LABELS\["app"\] must be a string, got a map/],
      [{ AUTO_REGISTER_GROUP: 3.5, INSTANCE_IPS: '10.50.0.3' }, /AUTO_REGISTER_GROUP must be a string, got a number/],
      [{ AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: '10.50.0.4', NETWORK: 'x'.repeat(100_000) }, /NETWORK "x{80}\.\.\." must be no more than 63 characters/],
    ];
    const results = await Promise.all(cases.map(([md]) => refusal(agent(md))));
    results.forEach(({ status, responses }, i) => {
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toMatch(cases[i]![1]);
      expect(status.details.length).toBeLessThan(400);
      expect(responses).toBe(0);
    });
    expect(await rejected('invalid_node_metadata')).toBe(cases.length);

    // Nothing registered for them; the valid agent's entry, connection and stream are as they were.
    scope.plane.workloadEntries!.flush();
    expect(scope.plane.store.list('WorkloadEntry', 'pay').map((e) => e.metadata.name).filter((n) => n.startsWith('vm-'))).toEqual(['vm-10.50.0.1']);
    expect(scope.plane.store.get<WorkloadEntry>(key)).toEqual(before);
    expect(before.metadata.annotations?.['istio.io/disconnectedAt']).toBeUndefined();
    expect(await Promise.race([good.status.then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 100))])).toBe('open');

    // A proxy that does not auto-register is not validated: odd labels, served as before.
    const plain = agent({ LABELS: { 'not a label': 'x' }, INSTANCE_IPS: 'nope' });
    expect((await plain.recv(5000)).resources).toHaveLength(1);

    // Logged through the log limiter: the stream refusal once, each registration rule once.
    const warned = (kind: string) => lines.filter((l) => l.kind === kind).length;
    expect(warned('invalid_node_metadata')).toBe(1);
    expect(warned('registration: auto-registration refused: invalid LABELS')).toBe(1);
    expect(warned('registration: auto-registration refused: invalid INSTANCE_IPS')).toBe(1);
    expect(warned('registration: auto-registration refused: node metadata of the wrong type')).toBe(1);
    expect(warned('registration: auto-registration refused: invalid NETWORK')).toBe(1);
    // Client values are clipped in log lines too.
    for (const l of lines) expect(JSON.stringify(l).length).toBeLessThan(2000);
  });
});
