// Connection-level limits: connections served at once, streams per connection, HTTP/2 session
// memory (wiring), idle and age limits.
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { API, apiMesh } from '../xds/fixtures.js';
import { node, planePerTest, rejectedCount, SotwClient, startPlane, waitFor } from '../xds/helpers.js';

const scope = planePerTest();

const rejected = (reason: string): Promise<number> => rejectedCount(scope.plane!, reason);

function client(opts: grpc.ChannelOptions = {}): SotwClient {
  const c = new SotwClient(scope.plane!.xdsPort, 'ads', opts);
  scope.cleanups.push(() => c.close());
  return c;
}

const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);

/** The accept-queue length of the socket listening on `port`, as `ss` reports it (Send-Q of a LISTEN row). */
function listenBacklog(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  return Number(out.trim().split(/\s+/)[2]);
}

const hasSs = (() => {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('connection limits', () => {
  it.skipIf(!hasSs)('listenBacklog: the xDS listener queues connections like istiod (somaxconn), not Node\'s 511', async () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    scope.plane = await startPlane(apiMesh(), { serverLimits: { listenBacklog: 4096 } });
    expect(listenBacklog(scope.plane.xdsPort)).toBe(Math.min(4096, somaxconn));
    await scope.plane.close();
    scope.plane = await startPlane(apiMesh(), { serverLimits: { listenBacklog: 100 } });
    expect(listenBacklog(scope.plane.xdsPort)).toBe(100);
  });

  it('maxConnections: the connection past the limit gets RESOURCE_EXHAUSTED and is counted; room again once one leaves', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { maxConnections: 2 } });
    const a = client();
    const b = client();
    for (const [i, c] of [a, b].entries()) {
      c.send({ node: node(`c${i}`), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
      expect((await c.recv()).resources).toHaveLength(1);
    }
    const third = client();
    third.send({ node: node('c3'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    const st = await within(third.status, 5000);
    expect(st?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(st?.details).toContain('connection limit reached (2 connections)');
    expect(await rejected('connection_limit')).toBe(1);
    expect((await scope.plane.metrics.http2Connections.get()).values[0]!.value).toBe(2);

    a.close();
    await waitFor(async () => (await scope.plane!.metrics.http2Connections.get()).values[0]!.value === 1, 3000, 'first connection gone');
    const fourth = client();
    fourth.send({ node: node('c4'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    expect((await fourth.recv()).resources).toHaveLength(1);
  });

  it('maxStreamsPerConnection (grpc.max_concurrent_streams): a stream past it waits for a slot', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { maxStreamsPerConnection: 2 } });
    // One channel, three streams on it.
    const ch = new grpc.Client(`127.0.0.1:${scope.plane.xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    scope.cleanups.push(() => ch.close());
    const { encode } = await import('../../src/proto/index.js');
    const { METHOD_PATH } = await import('../../src/proto/services.js');
    const id = (x: Buffer) => x;
    const open = (name: string) => {
      const call = ch.makeBidiStreamRequest<Buffer, Buffer>(METHOD_PATH.ADS_STREAM, id, id);
      let got = 0;
      call.on('data', () => got++);
      call.on('error', () => {});
      call.write(Buffer.from(encode('DiscoveryRequest', { node: node(name), type_url: TYPE_URL.ENDPOINT, resource_names: [API] })));
      return { call, got: () => got };
    };
    const s1 = open('s1');
    const s2 = open('s2');
    await waitFor(() => s1.got() === 1 && s2.got() === 1, 3000, 'two streams served');
    const s3 = open('s3');
    await new Promise((r) => setTimeout(r, 300));
    expect(s3.got()).toBe(0);
    expect(scope.plane.xds.connections.size).toBe(2);
    s1.call.cancel();
    await waitFor(() => s3.got() === 1, 3000, 'third stream served once a slot freed');
    s2.call.cancel();
    s3.call.cancel();
  });

  it('maxSessionMemoryMb is handed to grpc-js (grpc-node.max_session_memory), which otherwise turns it off', async () => {
    const grpcOptions = (p: ControlPlane) => (p.xds as unknown as { grpcServer: { options: Record<string, unknown>; commonServerOptions: { maxSessionMemory: number } } }).grpcServer;
    scope.plane = await startPlane(apiMesh());
    expect(grpcOptions(scope.plane).commonServerOptions.maxSessionMemory).toBe(64);
    await scope.plane.close();
    scope.plane = await startPlane(apiMesh(), { serverLimits: { maxSessionMemoryMb: 8 } });
    expect(grpcOptions(scope.plane).options['grpc-node.max_session_memory']).toBe(8);
    expect(grpcOptions(scope.plane).commonServerOptions.maxSessionMemory).toBe(8);
  });

  it('maxConnectionIdleMs: a connection with no stream gets GOAWAY', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { maxConnectionIdleMs: 200 } });
    const session = http2.connect(`http://127.0.0.1:${scope.plane.xdsPort}`);
    session.on('error', () => {});
    scope.cleanups.push(() => session.destroy());
    const away = new Promise<boolean>((resolve) => session.on('goaway', () => resolve(true)));
    expect(await within(away, 3000)).toBe(true);
  });

  it('maxConnectionAgeMs + grace: an old connection is asked to go, then cut; its stream ends', async () => {
    scope.plane = await startPlane(apiMesh(), { serverLimits: { maxConnectionAgeMs: 300, maxConnectionAgeGraceMs: 200 } });
    const c = client();
    c.send({ node: node('old'), type_url: TYPE_URL.ENDPOINT, resource_names: [API] });
    await c.recv();
    const st = await within(c.status, 5000);
    expect(st).toBeDefined();
    expect(st!.code).not.toBe(grpc.status.OK);
  });
});
