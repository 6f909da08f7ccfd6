// The shape of an emulated link (docs/scenarios.md#network): per direction a one-way delay with
// jitter, a rate and a loss probability. Plain data (it crosses into the relay's worker thread),
// and the pure arithmetic the relay applies to each chunk of the byte stream.
//
// Directions are named from the control plane's side of the mesh: `toServer` carries what the
// agents send (requests, ACKs, health reports), `toAgents` what the control plane sends (pushes).

export type Direction = 'toServer' | 'toAgents';
export const DIRECTIONS: readonly Direction[] = ['toServer', 'toAgents'];

export interface DirectionShape {
  /** One-way delay (ms). */
  delayMs: number;
  /** Each chunk's delay is delayMs +- up to jitterMs (uniform), never below 0. */
  jitterMs: number;
  /** Bits per second; 0: unlimited. */
  rateBps: number;
  /** Probability 0..1 that a segment is lost (see loss-model.ts for what that does to a TCP stream). */
  loss: number;
}

export interface LinkShape {
  toServer: DirectionShape;
  toAgents: DirectionShape;
}

export const NO_SHAPE: Readonly<DirectionShape> = Object.freeze({ delayMs: 0, jitterMs: 0, rateBps: 0, loss: 0 });

/** The same shape both ways. */
export function symmetricShape(d: Partial<DirectionShape>): LinkShape {
  return { toServer: { ...NO_SHAPE, ...d }, toAgents: { ...NO_SHAPE, ...d } };
}

/** Round-trip time without jitter, queueing or serialisation. */
export function baseRttMs(s: LinkShape): number {
  return s.toServer.delayMs + s.toAgents.delayMs;
}

/** "1Mbit", "512kbit", "10mbit", "1.5Gbit", "9600bit" (tc's spelling; bits, not bytes). */
export const BIT_RATE_PATTERN = '^\\d+(\\.\\d+)?([kKmMgG])?bit$';

/** Bits per second of a rate string; throws on a spelling the schema would have rejected. */
export function parseBitRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG])?bit$/.exec(s);
  if (!m) throw new Error(`not a bit rate: "${s}"`);
  const mult = { k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Number(m[1]) * mult;
}

export function formatBitRate(bps: number): string {
  if (bps >= 1e9) return `${+(bps / 1e9).toFixed(2)}Gbit`;
  if (bps >= 1e6) return `${+(bps / 1e6).toFixed(2)}Mbit`;
  if (bps >= 1e3) return `${+(bps / 1e3).toFixed(2)}kbit`;
  return `${bps}bit`;
}

/** How long `bytes` take to leave at `rateBps` (0: unlimited, no time). */
export function serialisationMs(bytes: number, rateBps: number): number {
  return rateBps > 0 ? (bytes * 8 * 1000) / rateBps : 0;
}

/** One direction's clock: when the link is next free to send, and when the last chunk was delivered. */
export interface PipeClock {
  /** The rate limiter: the link is busy sending until then (ms, same clock as `now`). */
  linkFreeAt: number;
  /** Delivery time of the previous chunk: no chunk is delivered before it (a byte stream keeps its order). */
  lastDeliveryAt: number;
}

export function newPipeClock(): PipeClock {
  return { linkFreeAt: -Infinity, lastDeliveryAt: -Infinity };
}

/**
 * When a chunk of `bytes` read at `now` is delivered, updating `clock`:
 *  - it waits for the link to be free and takes its serialisation time at the rate (a token
 *    bucket of one chunk: back-to-back chunks queue behind each other);
 *  - then the one-way delay, with `jitter01` (a uniform draw 0..1) moving it within +-jitter;
 *  - then `stallMs` if the loss model stalled the stream here (0 otherwise);
 *  - and never before the previous chunk: TCP delivers in order, so a chunk whose jitter came
 *    out small waits for the one before it instead of overtaking it.
 */
export function deliveryTime(clock: PipeClock, now: number, bytes: number, shape: DirectionShape, jitter01: number, stallMs = 0): number {
  const start = Math.max(now, clock.linkFreeAt);
  const sent = start + serialisationMs(bytes, shape.rateBps);
  clock.linkFreeAt = sent;
  const delay = Math.max(0, shape.delayMs + (shape.jitterMs > 0 ? (2 * jitter01 - 1) * shape.jitterMs : 0));
  const at = Math.max(sent + delay, clock.lastDeliveryAt) + stallMs;
  clock.lastDeliveryAt = at;
  return at;
}

export function describeShape(s: LinkShape): string {
  const one = (d: DirectionShape): string => {
    const parts: string[] = [];
    if (d.delayMs) parts.push(`${d.delayMs}ms${d.jitterMs ? `±${d.jitterMs}ms` : ''}`);
    else if (d.jitterMs) parts.push(`0ms±${d.jitterMs}ms`);
    if (d.loss) parts.push(`${+(d.loss * 100).toFixed(3)}% loss`);
    if (d.rateBps) parts.push(formatBitRate(d.rateBps));
    return parts.length ? parts.join(' ') : 'unshaped';
  };
  const a = one(s.toServer);
  const b = one(s.toAgents);
  return a === b ? a : `toServer ${a}, toAgents ${b}`;
}
