// One emulated link: a TCP relay listening on loopback. Agents selected by the link connect to
// it instead of the control plane; it dials the control plane's xDS address for each of them and
// shapes both directions (shaped-pipe.ts). Plain TCP relaying, so TLS passes through unchanged.
//
// A partition cuts one direction or both:
//  - bytes in a cut direction are held, not dropped (a real partition's retransmissions would
//    deliver them after the heal), bounded per connection by pausing reads;
//  - a close (FIN or reset) is not passed across a cut: the other side keeps its connection
//    until its own keepalive gives up, as across a real partition;
//  - a connection accepted during a partition is held without dialing the control plane until
//    the heal (the agent's TCP connect succeeds at the relay; its HTTP/2 handshake then waits);
//  - on heal, held bytes flow; a connection one side of which closed during the cut is reset
//    (both sockets destroyed, held bytes discarded), as TCP resets a connection when a segment
//    reaches a peer that no longer has it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { baseRttMs, DIRECTIONS, type Direction, type LinkShape } from './link-shape.js';
import { mulberry32 } from '../util/random.js';
import { DEFAULT_MAX_HELD_BYTES, resetSocket, ShapedPipe } from './shaped-pipe.js';

export type PartitionDirection = 'both' | Direction;

export interface LinkRelayOptions {
  name: string;
  /** Where connections go: the control plane's xDS `host:port`. */
  upstream: string;
  shape: LinkShape;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Bound on bytes waiting per connection and direction, beyond which reads pause (default 8 MiB). */
  maxHeldBytes?: number;
  /** Seed of the jitter and loss draws. */
  seed?: number;
  /** Bound on connections at once (default 20,000): beyond it new ones are refused (destroyed). */
  maxConnections?: number;
}

export interface LinkStats {
  name: string;
  address: string;
  /** Connections accepted over the run. */
  connections: number;
  /** Open now. */
  open: number;
  /** Bytes delivered agents -> control plane, and control plane -> agents. */
  bytesToServer: number;
  bytesToAgents: number;
  /** Most bytes waiting in one connection's direction at any time. */
  maxHeldBytes: number;
  /** Most bytes waiting in the whole relay at any time. */
  maxHeldBytesTotal: number;
  /** Connections accepted while partitioned, held until the heal. */
  heldConnections: number;
  /** Connections reset at a heal because one side had closed during the cut. */
  resetAtHeal: number;
  /** Chunks stalled one retransmission timeout by the loss model. */
  lossStalls: number;
  /** Dials to the control plane that failed (the agent's connection was reset). */
  dialErrors: number;
  /** Partitions started and healed. */
  partitions: number;
  heals: number;
  /** Currently cut directions. */
  cut: Direction[];
}

/** A link's figures before any connection: also what the report shows for a relay that gave none. */
export function emptyLinkStats(name: string): LinkStats {
  return {
    name,
    address: '',
    connections: 0,
    open: 0,
    bytesToServer: 0,
    bytesToAgents: 0,
    maxHeldBytes: 0,
    maxHeldBytesTotal: 0,
    heldConnections: 0,
    resetAtHeal: 0,
    lossStalls: 0,
    dialErrors: 0,
    partitions: 0,
    heals: 0,
    cut: [],
  };
}

class RelayedConnection {
  upstream: Socket | undefined;
  readonly pipes: Record<Direction, ShapedPipe>;
  /** Set when a side closed while the direction carrying its close was cut. */
  closedDuringCut = false;
  private readonly finished = new Set<Direction>();
  private readonly held: Record<Direction, number> = { toServer: 0, toAgents: 0 };
  closed = false;

  constructor(
    private readonly relay: LinkRelay,
    readonly agent: Socket,
  ) {
    const shape = relay.shape;
    const rtt = baseRttMs(shape);
    const mk = (dir: Direction, src: Socket | undefined) =>
      new ShapedPipe(
        src,
        shape[dir],
        rtt,
        relay.random,
        {
          delivered: (n) => relay.countDelivered(dir, n),
          held: (n) => {
            relay.countHeld(n - this.held[dir], n);
            this.held[dir] = n;
          },
          stalled: () => relay.stats.lossStalls++,
          finished: () => {
            this.finished.add(dir);
            if (this.finished.size === 2) this.destroy();
          },
        },
        relay.maxHeldBytes,
      );
    this.pipes = { toServer: mk('toServer', agent), toAgents: mk('toAgents', undefined) };
    agent.on('data', (d: Buffer) => this.pipes.toServer.push(d));
    agent.on('end', () => this.sourceClosed('toServer', 'end'));
    agent.on('error', () => {});
    // A close without a FIN before it is a reset (or the socket failing).
    agent.on('close', () => this.ended.toServer || this.sourceClosed('toServer', 'reset'));
  }

  private readonly ended: Record<Direction, boolean> = { toServer: false, toAgents: false };

  /** Dials the control plane (now, or at the heal for a connection accepted during a partition). */
  dial(): void {
    if (this.closed || this.upstream) return;
    const [host, port] = splitHostPort(this.relay.upstreamAddress);
    const up = createConnection({ host, port, allowHalfOpen: true, noDelay: true });
    this.upstream = up;
    // The control plane's side feeds the toAgents pipe; it was built before the socket existed.
    this.pipes.toAgents.setSource(up);
    up.on('connect', () => this.pipes.toServer.setDestination(up));
    up.on('data', (d: Buffer) => this.pipes.toAgents.push(d));
    up.on('end', () => this.sourceClosed('toAgents', 'end'));
    up.on('error', () => {
      if (!this.pipes.toServer.hasDestination) this.relay.stats.dialErrors++;
    });
    up.on('close', () => this.ended.toAgents || this.sourceClosed('toAgents', 'reset'));
    this.pipes.toAgents.setDestination(this.agent);
  }

  private sourceClosed(dir: Direction, kind: 'end' | 'reset'): void {
    if (this.closed) return;
    if (kind === 'end') this.ended[dir] = true;
    const pipe = this.pipes[dir];
    // A dial that never connected: the agent sees its connection reset, as a refused one would.
    if (dir === 'toAgents' && kind === 'reset' && this.upstream && !this.pipes.toServer.hasDestination) {
      this.destroy();
      return;
    }
    if (pipe.cut || (dir === 'toServer' && !this.upstream)) this.closedDuringCut = true;
    pipe.sourceClose(kind);
  }

  setCut(dir: Direction, on: boolean): void {
    this.pipes[dir].setCut(on);
  }

  /** At a partition's start: a close still on its way is now behind the cut too. */
  partitioned(): void {
    for (const d of DIRECTIONS) if (this.pipes[d].cut && this.pipes[d].closeHeld) this.closedDuringCut = true;
  }

  /** After a heal: reset a connection one side of which went away during the cut, dial a held one. */
  healed(): 'reset' | 'dialed' | 'dropped' | 'ok' {
    if (this.closed) return 'ok';
    if (!this.upstream) {
      // Never dialed: an agent that gave up during the partition is simply gone.
      if (this.closedDuringCut) {
        this.destroy();
        return 'dropped';
      }
      this.dial();
      return 'dialed';
    }
    if (this.closedDuringCut) {
      this.destroy(true);
      return 'reset';
    }
    return 'ok';
  }

  /** Closes both sides; `reset`: with a TCP RST, as a peer that lost the connection answers. */
  destroy(reset = false): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of DIRECTIONS) this.pipes[d].close();
    for (const s of [this.agent, this.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) resetSocket(s);
      else s.destroy();
    }
    this.relay.forget(this);
  }
}

export class LinkRelay {
  private server: Server | undefined;
  private readonly conns = new Set<RelayedConnection>();
  private readonly cut: Record<Direction, boolean> = { toServer: false, toAgents: false };
  private heldTotal = 0;
  readonly random: () => number;
  readonly maxHeldBytes: number;
  readonly upstreamAddress: string;
  shape: LinkShape;
  readonly stats: LinkStats;

  constructor(private readonly o: LinkRelayOptions) {
    this.shape = o.shape;
    this.upstreamAddress = o.upstream;
    this.maxHeldBytes = o.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
    this.random = mulberry32(o.seed ?? 1);
    this.stats = emptyLinkStats(o.name);
  }

  /** Listens on loopback at a free port; resolves with `host:port`. */
  listen(): Promise<string> {
    const host = this.o.host ?? '127.0.0.1';
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (sock) => this.accept(sock));
    server.maxConnections = this.o.maxConnections ?? 20_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        const a = server.address();
        if (!a || typeof a === 'string') return reject(new Error('relay has no address'));
        this.stats.address = `${host}:${a.port}`;
        resolve(this.stats.address);
      });
    });
  }

  get address(): string {
    return this.stats.address;
  }

  private accept(sock: Socket): void {
    this.stats.connections++;
    const c = new RelayedConnection(this, sock);
    this.conns.add(c);
    this.stats.open = this.conns.size;
    for (const d of DIRECTIONS) if (this.cut[d]) c.setCut(d, true);
    // Neither a SYN nor its answer crosses a partition in either direction: held until the heal.
    if (this.cut.toServer || this.cut.toAgents) this.stats.heldConnections++;
    else c.dial();
  }

  forget(c: RelayedConnection): void {
    this.conns.delete(c);
    this.stats.open = this.conns.size;
  }

  countDelivered(dir: Direction, n: number): void {
    if (dir === 'toServer') this.stats.bytesToServer += n;
    else this.stats.bytesToAgents += n;
  }

  /** A pipe's held bytes changed by `delta` to `now`. */
  countHeld(delta: number, now: number): void {
    this.heldTotal += delta;
    if (this.heldTotal > this.stats.maxHeldBytesTotal) this.stats.maxHeldBytesTotal = this.heldTotal;
    if (now > this.stats.maxHeldBytes) this.stats.maxHeldBytes = now;
  }

  setShape(shape: LinkShape): void {
    this.shape = shape;
    const rtt = baseRttMs(shape);
    for (const c of this.conns) for (const d of DIRECTIONS) c.pipes[d].setShape(shape[d], rtt);
  }

  partition(direction: PartitionDirection): void {
    this.stats.partitions++;
    for (const d of DIRECTIONS) {
      if (direction !== 'both' && direction !== d) continue;
      this.cut[d] = true;
      for (const c of this.conns) c.setCut(d, true);
    }
    for (const c of this.conns) c.partitioned();
    this.stats.cut = DIRECTIONS.filter((d) => this.cut[d]);
  }

  /** Ends the partition: held bytes flow, held connections dial, connections closed on one side during the cut are reset. */
  heal(): { reset: number; dialed: number } {
    if (!this.cut.toServer && !this.cut.toAgents) return { reset: 0, dialed: 0 };
    this.stats.heals++;
    this.cut.toServer = this.cut.toAgents = false;
    this.stats.cut = [];
    let reset = 0;
    let dialed = 0;
    for (const c of [...this.conns]) {
      const r = c.healed();
      if (r === 'reset') reset++;
      else {
        if (r === 'dialed') dialed++;
        for (const d of DIRECTIONS) c.setCut(d, false);
      }
    }
    this.stats.resetAtHeal += reset;
    return { reset, dialed };
  }

  snapshot(): LinkStats {
    return { ...this.stats, cut: [...this.stats.cut] };
  }

  /** Stops listening and destroys every connection. */
  close(): Promise<void> {
    for (const c of [...this.conns]) c.destroy();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

function splitHostPort(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  const host = a.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return [host, Number(a.slice(i + 1))];
}
