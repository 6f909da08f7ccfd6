// The relay on loopback with real sockets. Timing assertions are lower bounds (a delay cannot
// come early) with loose upper bounds, so a busy 2-core box does not make them flaky. Every wait
// is bounded; every socket and server is closed in afterEach.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkRelay } from '../../src/network/link-relay.js';
import { symmetricShape, type LinkShape } from '../../src/network/link-shape.js';
import { RelayHost } from '../../src/network/relay-host.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Upstream {
  address: string;
  sockets: Socket[];
  received: () => Buffer;
  /** Bytes received so far (cheap to poll). */
  count: () => number;
  ended: () => boolean;
}

/** A server that records what it gets; `echo` sends everything back. */
async function upstream(echo = false): Promise<Upstream> {
  const sockets: Socket[] = [];
  const chunks: Buffer[] = [];
  let ended = false;
  let count = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      count += d.length;
      if (echo) s.write(d);
      else chunks.push(d);
    });
    s.on('end', () => (ended = true));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  const a = server.address();
  return { address: `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, sockets, received: () => Buffer.concat(chunks), count: () => count, ended: () => ended };
}

async function relay(up: string, shape: LinkShape, maxHeldBytes?: number): Promise<LinkRelay> {
  const r = new LinkRelay({ name: 'l', upstream: up, shape, ...(maxHeldBytes ? { maxHeldBytes } : {}) });
  await r.listen();
  cleanups.push(() => r.close());
  return r;
}

function connect(address: string): Promise<Socket> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: host!, port: Number(port), allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => s.destroy());
  });
}

/** Polls `cond` every 10 ms for at most `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LinkRelay', () => {
  it('relays both ways unshaped', async () => {
    const up = await upstream(true);
    const r = await relay(up.address, symmetricShape({}));
    const c = await connect(r.address);
    let got = '';
    c.on('data', (d) => (got += d));
    c.write('hello');
    expect(await until(() => got === 'hello')).toBe(true);
    const s = r.snapshot();
    expect(s).toMatchObject({ connections: 1, open: 1, bytesToServer: 5, bytesToAgents: 5 });
  });

  it('delays each direction (lower bound, loose upper bound)', async () => {
    const up = await upstream(true);
    const r = await relay(up.address, { toServer: { delayMs: 80, jitterMs: 0, rateBps: 0, loss: 0 }, toAgents: { delayMs: 120, jitterMs: 0, rateBps: 0, loss: 0 } });
    const c = await connect(r.address);
    const rtts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const back = new Promise((res) => c.once('data', res));
      c.write(`ping${i}`);
      await Promise.race([back, sleep(5000)]);
      rtts.push(performance.now() - t);
    }
    for (const rtt of rtts) {
      expect(rtt).toBeGreaterThanOrEqual(195);
      expect(rtt).toBeLessThan(2000);
    }
  });

  it('keeps the byte order under heavy jitter', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({ delayMs: 30, jitterMs: 29 }));
    const c = await connect(r.address);
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const b = Buffer.from(`<${i}>`);
      sent.push(b);
      c.write(b);
      if (i % 10 === 0) await sleep(2);
    }
    const all = Buffer.concat(sent);
    expect(await until(() => up.received().length >= all.length)).toBe(true);
    expect(up.received().equals(all)).toBe(true);
  });

  it('serialises at the rate (lower bound)', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({ rateBps: 800_000 }));
    const c = await connect(r.address);
    const t = performance.now();
    c.write(Buffer.alloc(40_000, 1)); // 320,000 bits at 800 kbit/s: 400 ms
    expect(await until(() => up.received().length === 40_000, 10_000)).toBe(true);
    const ms = performance.now() - t;
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(5000);
  });

  it('stalls a lost chunk one retransmission timeout', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({ loss: 1 }));
    const c = await connect(r.address);
    const t = performance.now();
    c.write('x');
    expect(await until(() => up.received().length === 1)).toBe(true);
    expect(performance.now() - t).toBeGreaterThanOrEqual(195);
    expect(r.snapshot().lossStalls).toBeGreaterThanOrEqual(1);
  });

  it('holds bytes across a partition and delivers them on heal', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({}));
    const c = await connect(r.address);
    expect(await until(() => up.sockets.length === 1)).toBe(true);
    r.partition('both');
    c.write('during the cut');
    await sleep(300);
    expect(up.received().length).toBe(0);
    expect(r.snapshot().maxHeldBytes).toBe(14);
    const h = r.heal();
    expect(h.reset).toBe(0);
    expect(await until(() => up.received().toString() === 'during the cut')).toBe(true);
  });

  it('cuts one direction only', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({}));
    const c = await connect(r.address);
    let got = '';
    c.on('data', (d) => (got += d));
    expect(await until(() => up.sockets.length === 1)).toBe(true);
    r.partition('toAgents');
    c.write('up');
    up.sockets[0]!.write('down');
    expect(await until(() => up.received().toString() === 'up')).toBe(true);
    await sleep(200);
    expect(got).toBe('');
    r.heal();
    expect(await until(() => got === 'down')).toBe(true);
  });

  it('passes no FIN across a cut, and resets at heal a connection whose other side closed', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({}));
    const c = await connect(r.address);
    let agentEnded = false;
    let agentClosed = false;
    let agentError = '';
    c.on('end', () => (agentEnded = true));
    c.on('close', () => (agentClosed = true));
    c.on('error', (e: NodeJS.ErrnoException) => (agentError = e.code ?? e.message));
    expect(await until(() => up.sockets.length === 1)).toBe(true);
    r.partition('both');
    up.sockets[0]!.end(); // the control plane closes (its keepalive gave up)
    await sleep(300);
    expect(agentEnded).toBe(false);
    expect(agentClosed).toBe(false);
    const h = r.heal();
    expect(h.reset).toBe(1);
    expect(await until(() => agentClosed)).toBe(true);
    expect(agentEnded).toBe(false);
    expect(agentError).toBe('ECONNRESET');
    expect(r.snapshot()).toMatchObject({ resetAtHeal: 1, open: 0 });
  });

  it('passes a FIN through when nothing is cut', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({ delayMs: 20 }));
    const c = await connect(r.address);
    expect(await until(() => up.sockets.length === 1)).toBe(true);
    c.end('bye');
    expect(await until(() => up.ended())).toBe(true);
    expect(up.received().toString()).toBe('bye');
  });

  it('holds a connection accepted during a partition without dialing, until the heal', async () => {
    const up = await upstream(false);
    const r = await relay(up.address, symmetricShape({}));
    r.partition('toServer');
    const c = await connect(r.address);
    c.write('early');
    await sleep(300);
    expect(up.sockets.length).toBe(0);
    expect(r.snapshot().heldConnections).toBe(1);
    expect(r.heal().dialed).toBe(1);
    expect(await until(() => up.received().toString() === 'early')).toBe(true);
  });

  it('bounds held bytes by pausing reads, and loses nothing', { timeout: 40_000 }, async () => {
    const up = await upstream(false);
    const max = 64 * 1024;
    const r = await relay(up.address, symmetricShape({}), max);
    const c = await connect(r.address);
    expect(await until(() => up.sockets.length === 1)).toBe(true);
    r.partition('toServer');
    // More than loopback's socket buffers can take (autotuned up to a few MiB each way).
    const total = 32 * 1024 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i++) data[i] = i % 251;
    c.write(data);
    await sleep(500);
    const s = r.snapshot();
    // One read past the bound at most (a read is at most 64 KiB).
    expect(s.maxHeldBytes).toBeLessThanOrEqual(max + 64 * 1024);
    expect(s.maxHeldBytes).toBeGreaterThan(max);
    // The rest waits in the sender's socket and the kernel's buffers, not in the relay.
    expect(c.writableLength).toBeGreaterThan(0);
    r.heal();
    expect(await until(() => up.count() === total, 20_000)).toBe(true);
    expect(up.received().equals(data)).toBe(true);
  });

  it('resets the agent when the control plane refuses the dial', async () => {
    const up = await upstream(false);
    const r = new LinkRelay({ name: 'x', upstream: '127.0.0.1:1', shape: symmetricShape({}) });
    await r.listen();
    cleanups.push(() => r.close());
    void up;
    let closed = false;
    const [host, port] = r.address.split(':');
    const c = createConnection({ host: host!, port: Number(port) });
    cleanups.push(() => c.destroy());
    c.on('error', () => {});
    c.on('close', () => (closed = true));
    expect(await until(() => closed)).toBe(true);
    expect(r.snapshot().dialErrors).toBe(1);
  });
});

describe('RelayHost (worker thread)', () => {
  it('runs relays off the main thread, partitions and heals them by message, and closes', async () => {
    const up = await upstream(true);
    const { host, addresses } = await RelayHost.start(up.address, [{ name: 'zone-b', shape: symmetricShape({ delayMs: 20 }), seed: 1 }]);
    cleanups.push(() => host.close());
    expect(addresses['zone-b']).toMatch(/^127\.0\.0\.1:\d+$/);
    const c = await connect(addresses['zone-b']!);
    let got = '';
    c.on('data', (d) => (got += d));
    c.write('a');
    expect(await until(() => got === 'a')).toBe(true);
    expect(await host.partition('zone-b', 'both')).toMatch(/cut \(both directions\), 1 connection/);
    c.write('b');
    await sleep(200);
    expect(got).toBe('a');
    expect(await host.heal('zone-b')).toMatch(/healed: 0 connection\(s\) reset/);
    expect(await until(() => got === 'ab')).toBe(true);
    await expect(host.partition('nope', 'both')).rejects.toThrow(/no link named nope/);
    const stats = await host.close();
    expect(stats[0]).toMatchObject({ name: 'zone-b', connections: 1, bytesToServer: 2, bytesToAgents: 2, partitions: 1, heals: 1 });
  });
});
