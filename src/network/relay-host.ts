// The runner's handle on the link relays: one worker thread holding every relay of a run
// (relay-worker.ts), so that shaping thousands of connections' bytes never delays the control
// plane that shares the runner's process. Every request is bounded in time; close() always ends
// the thread (terminate() after a bounded wait), on success and on failure alike.
import { Worker } from 'node:worker_threads';
import type { LinkStats, PartitionDirection } from './link-relay.js';
import type { LinkShape } from './link-shape.js';
import type { RelayLinkConfig, RelayReply, RelayRequest } from './relay-worker.js';

const ENTRY = new URL('./relay-worker-entry.mjs', import.meta.url);
const REQUEST_TIMEOUT_MS = 10_000;

export class RelayHost {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: RelayReply) => void; timer: NodeJS.Timeout }>();
  private exited = false;
  private lastStats: LinkStats[] = [];

  private constructor(private readonly worker: Worker) {
    // Never what keeps a process alive: a run that failed before closing it still exits.
    worker.unref();
    worker.on('message', (m: { id: number; reply: RelayReply }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(m.id);
      p.resolve(m.reply);
    });
    const fail = (why: string) => {
      this.exited = true;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.resolve({ type: 'error', message: why });
        this.pending.delete(id);
      }
    };
    worker.on('error', (err) => fail(`relay thread failed: ${err.message}`));
    worker.on('exit', (code) => fail(`relay thread exited (code ${code})`));
  }

  /** Starts the thread and one relay per link, all forwarding to `upstream`; resolves with each link's address. */
  static async start(upstream: string, links: RelayLinkConfig[]): Promise<{ host: RelayHost; addresses: Record<string, string> }> {
    const host = new RelayHost(new Worker(ENTRY));
    try {
      const r = await host.request({ type: 'open', upstream, links }, 30_000);
      if (r.type !== 'opened') throw new Error(r.type === 'error' ? r.message : `unexpected reply ${r.type}`);
      return { host, addresses: r.addresses };
    } catch (err) {
      await host.close();
      throw err;
    }
  }

  private request(req: RelayRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<RelayReply> {
    if (this.exited) return Promise.resolve({ type: 'error', message: 'relay thread not running' });
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ type: 'error', message: `relay thread did not answer ${req.type} within ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.worker.postMessage({ id, req });
    });
  }

  private async done(req: RelayRequest): Promise<string> {
    const r = await this.request(req);
    if (r.type === 'error') throw new Error(r.message);
    return r.type === 'done' ? r.result : r.type;
  }

  partition(link: string, direction: PartitionDirection): Promise<string> {
    return this.done({ type: 'partition', link, direction });
  }

  heal(link: string): Promise<string> {
    return this.done({ type: 'heal', link });
  }

  setShape(link: string, shape: LinkShape): Promise<string> {
    return this.done({ type: 'shape', link, shape });
  }

  async stats(): Promise<LinkStats[]> {
    const r = await this.request({ type: 'stats' });
    if (r.type === 'stats') this.lastStats = r.stats;
    return this.lastStats;
  }

  /** Closes every relay and ends the thread; resolves with the final figures (the last known if the thread is gone). */
  async close(): Promise<LinkStats[]> {
    if (!this.exited) {
      const r = await this.request({ type: 'close' }, 5_000);
      if (r.type === 'closed') this.lastStats = r.stats;
    }
    await this.worker.terminate().catch(() => undefined);
    this.exited = true;
    return this.lastStats;
  }
}
