// The link relays' side of their worker thread: every relay of a run lives here, off the event
// loop of the control plane (which runs in the runner's main thread), and is driven by messages
// from relay-host.ts. The thread ends when told to close or when its parent goes.
import { parentPort } from 'node:worker_threads';
import { LinkRelay, type LinkStats, type PartitionDirection } from './link-relay.js';
import type { LinkShape } from './link-shape.js';

export interface RelayLinkConfig {
  name: string;
  shape: LinkShape;
  seed: number;
  maxHeldBytes?: number;
}

export type RelayRequest =
  | { type: 'open'; upstream: string; links: RelayLinkConfig[] }
  | { type: 'shape'; link: string; shape: LinkShape }
  | { type: 'partition'; link: string; direction: PartitionDirection }
  | { type: 'heal'; link: string }
  | { type: 'stats' }
  | { type: 'close' };

export type RelayReply =
  | { type: 'opened'; addresses: Record<string, string> }
  | { type: 'done'; result: string }
  | { type: 'stats'; stats: LinkStats[] }
  | { type: 'closed'; stats: LinkStats[] }
  | { type: 'error'; message: string };

const relays = new Map<string, LinkRelay>();

async function handle(m: RelayRequest): Promise<RelayReply> {
  switch (m.type) {
    case 'open': {
      const addresses: Record<string, string> = {};
      for (const l of m.links) {
        const r = new LinkRelay({ name: l.name, upstream: m.upstream, shape: l.shape, seed: l.seed, ...(l.maxHeldBytes ? { maxHeldBytes: l.maxHeldBytes } : {}) });
        relays.set(l.name, r);
        addresses[l.name] = await r.listen();
      }
      return { type: 'opened', addresses };
    }
    case 'shape':
      relay(m.link).setShape(m.shape);
      return { type: 'done', result: `link ${m.link} reshaped` };
    case 'partition': {
      const r = relay(m.link);
      r.partition(m.direction);
      const s = r.snapshot();
      return { type: 'done', result: `link ${m.link} cut (${m.direction === 'both' ? 'both directions' : m.direction}), ${s.open} connection(s) held` };
    }
    case 'heal': {
      const r = relay(m.link);
      const h = r.heal();
      const s = r.snapshot();
      return { type: 'done', result: `link ${m.link} healed: ${h.reset} connection(s) reset (closed on one side during the cut), ${h.dialed} held connect(s) dialed, ${s.open} open; peak held ${s.maxHeldBytes} B per connection` };
    }
    case 'stats':
      return { type: 'stats', stats: [...relays.values()].map((r) => r.snapshot()) };
    case 'close': {
      const stats = [...relays.values()].map((r) => r.snapshot());
      await Promise.all([...relays.values()].map((r) => r.close()));
      relays.clear();
      return { type: 'closed', stats };
    }
  }
}

function relay(name: string): LinkRelay {
  const r = relays.get(name);
  if (!r) throw new Error(`no link named ${name}`);
  return r;
}

const port = parentPort;
if (port) {
  port.on('message', (msg: { id: number; req: RelayRequest }) => {
    handle(msg.req).then(
      (reply) => port.postMessage({ id: msg.id, reply }),
      (err: unknown) => port.postMessage({ id: msg.id, reply: { type: 'error', message: (err as Error).message ?? String(err) } }),
    );
  });
}
