// Auto-registrations per second per source IP (istiod rate-limits them too): within the burst
// streams register at once, a little past it they wait their turn, further past it they are
// refused with UNAVAILABLE, a retry hint and a pushback trailer, all counted; streams that do not
// register are not throttled.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import { API, apiMesh, vmGroup } from '../xds/fixtures.js';
import { node, planePerTest, rejectedCount, SotwClient, startPlane, waitFor } from '../xds/helpers.js';

const scope = planePerTest();

const group = vmGroup;

function agent(i: number, register = true): SotwClient {
  const c = new SotwClient(scope.plane!.xdsPort);
  scope.cleanups.push(() => c.close());
  const md: Record<string, unknown> = { NAMESPACE: 'pay', INSTANCE_IPS: `10.50.0.${i}` };
  if (register) md['AUTO_REGISTER_GROUP'] = 'vm';
  c.send({ node: node(`vm-${i}`, 'r1/z1/s1', md), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
  return c;
}

async function throttled(outcome: string): Promise<number> {
  const m = await scope.plane!.metrics.registrationThrottle.get();
  return m.values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;
}

const rejected = (reason: string): Promise<number> => rejectedCount(scope.plane!, reason);

const registered = () => scope.plane!.store.list('WorkloadEntry', 'pay').filter((e) => e.metadata.annotations?.['istio.io/autoRegistrationGroup']).length;

/** Resolves with the status if the stream ends within `ms`, else 'open' (and it got a response). */
async function outcome(c: SotwClient, ms: number): Promise<grpc.StatusObject | 'served'> {
  const r = await Promise.race([c.status, c.recv(ms).then(() => 'served' as const, () => 'silent' as const)]);
  if (r === 'silent') throw new Error('neither served nor closed');
  return r;
}

describe('registration rate limit per source IP', () => {
  it('past the burst, and past the longest wait, registering streams get UNAVAILABLE with a retry hint; counted', async () => {
    // 1 token per 2 s: nothing refills during the test; waits would exceed 300 ms.
    scope.plane = await startPlane([...apiMesh(), group], { serverLimits: { registrationsPerSecond: 0.5, registrationBurst: 3, registrationMaxWaitMs: 300 } });
    const agents = Array.from({ length: 8 }, (_, i) => agent(i + 1));
    const results = await Promise.all(agents.map((a) => outcome(a, 5000)));
    const served = results.filter((r) => r === 'served');
    const refused = results.filter((r): r is grpc.StatusObject => r !== 'served');
    expect(served).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const st of refused) {
      expect(st.code).toBe(grpc.status.UNAVAILABLE);
      expect(st.details).toMatch(/auto-registration rate limit for 127\.0\.0\.1 exceeded \(0\.5\/s, burst 3\); retry in \d+ ms/);
      expect(Number(st.metadata.get('grpc-retry-pushback-ms')[0])).toBeGreaterThan(0);
    }
    expect(await throttled('refused')).toBe(5);
    expect(await rejected('registration_rate_limited')).toBe(5);
    await waitFor(() => registered() === 3, 3000, 'three entries');

    // Streams that do not auto-register are not throttled.
    const plain = Array.from({ length: 5 }, (_, i) => agent(100 + i, false));
    for (const p of plain) expect(await outcome(p, 3000)).toBe('served');
  });

  it('a little past the burst, streams wait for their token instead (paused, then served in order)', async () => {
    // 10/s: one token per 100 ms; up to 1 s of waiting allowed.
    scope.plane = await startPlane([...apiMesh(), group], { serverLimits: { registrationsPerSecond: 10, registrationBurst: 1, registrationMaxWaitMs: 1000 } });
    const t0 = performance.now();
    const agents = Array.from({ length: 4 }, (_, i) => agent(i + 1));
    const results = await Promise.all(agents.map((a) => outcome(a, 5000)));
    expect(results.every((r) => r === 'served')).toBe(true);
    // Three waited (about 100, 200, 300 ms); the last got its answer no sooner than its token.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(await throttled('delayed')).toBeGreaterThanOrEqual(2);
    expect(await throttled('refused')).toBe(0);
    await waitFor(() => registered() === 4, 3000, 'four entries');
  });

  it('registrationsPerSecond 0 turns the throttle off', async () => {
    scope.plane = await startPlane([...apiMesh(), group], { serverLimits: { registrationsPerSecond: 0, registrationBurst: 1 } });
    const agents = Array.from({ length: 6 }, (_, i) => agent(i + 1));
    for (const a of agents) expect(await outcome(a, 3000)).toBe('served');
    expect(await throttled('delayed')).toBe(0);
    expect(await throttled('refused')).toBe(0);
  });
});
