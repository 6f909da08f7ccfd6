// Keepalive enforcement: the client ping policy gRPC servers apply (min interval between pings
// without data, pings without streams, strikes, then GOAWAY ENHANCE_YOUR_CALM "too_many_pings"),
// and the server's own keepalive that drops a peer which stops answering.
import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { apiMesh } from '../xds/fixtures.js';
import { planePerTest, rejectedCount, startPlane, waitFor } from '../xds/helpers.js';

const scope = planePerTest();

const rejected = (reason: string): Promise<number> => rejectedCount(scope.plane!, reason);

/** A connected raw HTTP/2 session (pings before 'connect' are cancelled client-side, never sent). */
async function connect(): Promise<{ session: http2.ClientHttp2Session; goaway: Promise<{ code: number; data: string } | undefined> }> {
  const session = http2.connect(`http://127.0.0.1:${scope.plane!.xdsPort}`);
  session.on('error', () => {});
  scope.cleanups.push(() => session.destroy());
  const goaway = new Promise<{ code: number; data: string } | undefined>((resolve) => {
    session.on('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '' }));
    session.on('close', () => resolve(undefined));
  });
  await new Promise((r) => session.once('connect', r));
  return { session, goaway };
}

const ping = (s: http2.ClientHttp2Session) => new Promise<void>((resolve) => s.ping(() => resolve()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);

describe('keepalive enforcement', () => {
  it('pings closer than the minimum interval: GOAWAY ENHANCE_YOUR_CALM "too_many_pings" after the allowed strikes, counted', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { minPingIntervalMs: 1000, maxPingStrikes: 2 } });
    const { session, goaway } = await connect();
    for (let i = 0; i < 5 && !session.destroyed; i++) await ping(session);
    const g = await within(goaway, 3000);
    expect(g).toEqual({ code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, data: 'too_many_pings' });
    expect(await rejected('too_many_pings')).toBe(1);
  });

  it('pings spaced by the minimum interval are fine', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { minPingIntervalMs: 150, maxPingStrikes: 0 } });
    const { session, goaway } = await connect();
    for (let i = 0; i < 4; i++) {
      await ping(session);
      await sleep(200);
    }
    expect(await within(goaway, 200)).toBe('timeout');
    expect(await rejected('too_many_pings')).toBe(0);
  });

  it('keepalivePermitWithoutCalls=false: pings on a connection with no stream are strikes', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { keepalivePermitWithoutCalls: false, minPingIntervalMs: 10, maxPingStrikes: 1 } });
    const { session, goaway } = await connect();
    for (let i = 0; i < 3 && !session.destroyed; i++) {
      await ping(session);
      await sleep(30);
    }
    const g = await within(goaway, 3000);
    expect(g).toEqual({ code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, data: 'too_many_pings' });
  });

  it('keepaliveTimeMs/keepaliveTimeoutMs: a peer that stops answering pings is dropped', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 } });
    const connections = async () => (await scope.plane!.metrics.http2Connections.get()).values[0]?.value ?? 0;
    // Speaks just enough HTTP/2 to open the session, then never reads again (a frozen agent).
    const sock = net.connect(scope.plane.xdsPort, '127.0.0.1');
    scope.cleanups.push(() => sock.destroy());
    sock.on('error', () => {});
    sock.on('connect', () => {
      sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      sock.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // empty SETTINGS
      sock.pause();
    });
    await waitFor(async () => (await connections()) === 1, 3000, 'connection open');
    // Ping unanswered: gone after about keepaliveTime + keepaliveTimeout.
    await waitFor(async () => (await connections()) === 0, 5000, 'frozen peer dropped');
  });
});
