// Test hosts on a real (virtual) network: network namespaces joined by point-to-point links.
// One "cp" namespace holds the control plane; each fleet namespace gets its own link to it
// (10.213.<k>.1 on the cp side, 10.213.<k>.2 on the fleet side), so a link can be slowed, made
// lossy or cut without touching the others. The host reaches the cp namespace over an unshaped
// veth management link (10.213.0.0/30) for the admin API only.
//
// The fleet links are TUN devices whose packets linkemu.py copies across with delay, jitter,
// loss, rate and drops per direction: this kernel has no sch_netem (tc offers tbf and htb only,
// no classifiers) and no iptables userland, so shaping and partitions are done in user space, at
// the packet level (TCP sees real delay, loss and retransmissions).
//
// Names carry the pid, so concurrent runs do not collide; namespaces left by a run whose pid is
// gone (crashed, kill -9) are removed before a new one starts. Everything is removed by
// `Net.destroy()`, and on process exit/signals if a test never got there.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const LINKEMU = fileURLToPath(new URL('./linkemu.py', import.meta.url));

export const PREFIX = 'xdsimnt';

/** Why namespaces cannot be made here (tests skip with it), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  for (const tool of ['ip', 'python3']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  const probe = `${PREFIX}-probe-${process.pid}`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['netns', 'del', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function tryRun(cmd: string, args: string[]): void {
  try {
    run(cmd, args);
  } catch {
    // Cleanup of something already gone.
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside a namespace (they would keep it alive), then deletes it. */
function deleteNamespace(ns: string): void {
  let pids: number[] = [];
  try {
    pids = run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
  } catch {
    // Namespace already gone.
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
  tryRun('ip', ['netns', 'del', ns]);
}

/** Removes namespaces (and with them their veths) of earlier runs whose process no longer exists. */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  let list = '';
  try {
    list = run('ip', ['netns', 'list']);
  } catch {
    return removed;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    deleteNamespace(name);
    removed.push(name);
  }
  // A host-side management veth whose peer namespace vanished is deleted with the peer; one left
  // half-created (crash between the two commands) still carries our prefix.
  try {
    for (const l of run('ip', ['-o', 'link', 'show']).split('\n')) {
      const m = /^\d+: (xn(\d+)h)[@:]/.exec(l);
      if (m && !pidAlive(Number(m[2]))) {
        tryRun('ip', ['link', 'del', m[1]!]);
        removed.push(m[1]!);
      }
    }
  } catch {
    // No link listing: nothing to do.
  }
  return removed;
}

export interface Shape {
  /** One-way delay, ms. */
  delayMs?: number;
  /** Jitter around the delay, ms. */
  jitterMs?: number;
  /** Packet loss, percent. */
  lossPct?: number;
  /** Rate limit, bits/s (a 2 s queue at that rate, then tail drop). */
  rateBps?: number;
}

export interface Link {
  /** Fleet namespace at the far end of this link. */
  ns: string;
  /** The server's address as seen from this fleet namespace. */
  serverIp: string;
  /** The fleet namespace's own address. */
  fleetIp: string;
  /** TUN device in the cp namespace and in the fleet namespace. */
  cpDev: string;
  fleetDev: string;
  /** The emulator process carrying this link. */
  emu: ChildProcess;
}

const ALL = new Set<Net>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const n of ALL) n.destroy();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const n of ALL) n.destroy();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

export class Net {
  readonly id = process.pid;
  readonly cp: string;
  readonly links: Link[] = [];
  /** Host-side address of the management link, and the cp namespace's (the admin API listens there). */
  readonly hostIp = '10.213.0.2';
  readonly cpMgmtIp = '10.213.0.1';
  private readonly namespaces: string[] = [];
  private readonly procs: ChildProcess[] = [];
  private readonly hostDev: string;
  private destroyed = false;

  /** Namespaces `cp` and `fleets` fleet namespaces, each linked to cp; leftovers removed first. */
  static async create(fleets: number): Promise<Net> {
    const n = new Net();
    try {
      await n.build(fleets);
    } catch (err) {
      n.destroy();
      throw err;
    }
    return n;
  }

  private constructor() {
    removeLeftovers();
    hookExit();
    ALL.add(this);
    this.cp = `${PREFIX}-${this.id}-cp`;
    this.hostDev = `xn${this.id}h`;
  }

  private async build(fleets: number): Promise<void> {
    if (fleets < 1 || fleets > 8) throw new Error('1..8 fleet namespaces');
    this.addNs(this.cp);
    // Management link host <-> cp: unshaped, only for the admin API.
    run('ip', ['link', 'add', this.hostDev, 'type', 'veth', 'peer', 'name', `xn${this.id}m`, 'netns', this.cp]);
    run('ip', ['addr', 'add', `${this.hostIp}/30`, 'dev', this.hostDev]);
    run('ip', ['link', 'set', this.hostDev, 'up']);
    this.nsRun(this.cp, ['ip', 'addr', 'add', `${this.cpMgmtIp}/30`, 'dev', `xn${this.id}m`]);
    this.nsRun(this.cp, ['ip', 'link', 'set', `xn${this.id}m`, 'up']);
    for (let k = 1; k <= fleets; k++) {
      const ns = `${PREFIX}-${this.id}-f${k}`;
      this.addNs(ns);
      const cpDev = `xn${this.id}c${k}`;
      const fleetDev = `xn${this.id}f${k}`;
      const emu = spawn('python3', [LINKEMU, this.cp, cpDev, ns, fleetDev], { stdio: ['pipe', 'pipe', 'pipe'] });
      this.procs.push(emu);
      await this.emuReply(emu, 'ready', 10_000);
      const serverIp = `10.213.${k}.1`;
      const fleetIp = `10.213.${k}.2`;
      this.nsRun(this.cp, ['ip', 'addr', 'add', serverIp, 'peer', fleetIp, 'dev', cpDev]);
      this.nsRun(this.cp, ['ip', 'link', 'set', cpDev, 'up']);
      this.nsRun(ns, ['ip', 'addr', 'add', fleetIp, 'peer', serverIp, 'dev', fleetDev]);
      this.nsRun(ns, ['ip', 'link', 'set', fleetDev, 'up']);
      this.links.push({ ns, serverIp, fleetIp, cpDev, fleetDev, emu });
    }
  }

  /** The emulator's next stdout line (bounded wait). */
  private emuReply(emu: ChildProcess, expect: string | null, timeoutMs = 5_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let buf = '';
      let err = '';
      const done = (f: () => void) => {
        clearTimeout(t);
        emu.stdout!.off('data', onData);
        emu.stderr!.off('data', onErr);
        emu.off('exit', onExit);
        f();
      };
      const onData = (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        done(() => (expect === null || line === expect ? resolve(line) : reject(new Error(`linkemu: ${line}`))));
      };
      const onErr = (d: Buffer) => (err += d.toString());
      const onExit = () => done(() => reject(new Error(`linkemu exited: ${err}`)));
      const t = setTimeout(() => done(() => reject(new Error(`linkemu: no reply in ${timeoutMs} ms ${err}`))), timeoutMs);
      emu.stdout!.on('data', onData);
      emu.stderr!.on('data', onErr);
      emu.on('exit', onExit);
    });
  }

  private addNs(ns: string): void {
    run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.nsRun(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }

  nsRun(ns: string, argv: string[]): string {
    return run('ip', ['netns', 'exec', ns, ...argv]);
  }

  /** Spawns `argv` inside namespace `ns`; killed (SIGKILL) by destroy() if still running. */
  spawnIn(ns: string, argv: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    return p;
  }

  /** Sets both directions of link k (1-based) to `shape` (an empty shape: a perfect link). */
  shape(k: number, shape: Shape): Promise<void> {
    return this.shapeDir(k, 'both', shape);
  }

  /** Shapes one direction: 'down' = server -> fleet, 'up' = fleet -> server. */
  async shapeDir(k: number, dir: 'up' | 'down' | 'both', shape: Shape): Promise<void> {
    const l = this.link(k);
    const set = (d: string) => `set ${d} ${shape.delayMs ?? 0} ${shape.jitterMs ?? 0} ${shape.lossPct ?? 0} ${shape.rateBps ?? 0}\n`;
    if (dir !== 'up') {
      l.emu.stdin!.write(set('ab'));
      await this.emuReply(l.emu, 'ok');
    }
    if (dir !== 'down') {
      l.emu.stdin!.write(set('ba'));
      await this.emuReply(l.emu, 'ok');
    }
  }

  /** Packet counts per direction of link k: in, out, lost (loss or partition), overflow (rate queue full), writeFailed (device not up). */
  async stats(k: number): Promise<Record<'down' | 'up', Record<'in' | 'out' | 'lost' | 'overflow' | 'writeFailed', number>>> {
    const l = this.link(k);
    l.emu.stdin!.write('stats\n');
    const j = JSON.parse(await this.emuReply(l.emu, null)) as Record<'ab' | 'ba', Record<'in' | 'out' | 'lost' | 'overflow' | 'writeFailed', number>>;
    return { down: j.ab, up: j.ba };
  }

  /**
   * Drops every packet in `dir` on link k for `ms` (a black hole, not a link-down: the sender
   * sees no error, as across a dead WAN path), then restores `restore`. Bounded: the returned
   * promise settles after `ms` whatever happens, and destroy() removes the namespaces anyway.
   */
  async partition(k: number, dir: 'up' | 'down' | 'both', ms: number, restore: Shape = {}): Promise<void> {
    await this.shapeDir(k, dir, { lossPct: 100 });
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      await this.shapeDir(k, dir, restore);
    }
  }

  /** Link k administratively down / up (both directions; local sends fail with an error). */
  setLink(k: number, up: boolean): void {
    const l = this.link(k);
    this.nsRun(l.ns, ['ip', 'link', 'set', l.fleetDev, up ? 'up' : 'down']);
  }

  link(k: number): Link {
    const l = this.links[k - 1];
    if (!l) throw new Error(`no link ${k}`);
    return l;
  }

  /** Kills what was spawned and deletes every namespace and link; safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of this.namespaces.reverse()) deleteNamespace(ns);
    tryRun('ip', ['link', 'del', this.hostDev]);
    ALL.delete(this);
  }

  /** Whether anything of this run is still there (for the cleanup assertion). */
  leftovers(): string[] {
    const out: string[] = [];
    for (const ns of [this.cp, ...this.links.map((l) => l.ns)]) if (existsSync(`/var/run/netns/${ns}`)) out.push(ns);
    try {
      if (run('ip', ['-o', 'link', 'show']).includes(`${this.hostDev}@`)) out.push(this.hostDev);
    } catch {
      // Nothing to list.
    }
    return out;
  }
}
