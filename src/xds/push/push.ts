// Push tracking: a push is one debounced set of changes fanned out to every affected stream. It
// stays open until each stream that got a response for it ACKs or NACKs (or goes away), which
// gives per-proxy and per-push convergence latency.
import type { XdsType } from '../types.js';

export type Satisfaction = 'ack' | 'nack' | 'none' | 'closed';

export interface PushSummary {
  readonly id: number;
  /** Types and names that changed. */
  readonly changes: Readonly<Record<string, number>>;
  /** ms since the first change of the push, when the fan-out finished writing. */
  readonly fanoutMs: number;
  /** ms since the first change until the last affected stream ACKed/NACKed; undefined while open. */
  readonly convergedMs?: number;
  readonly streamsSent: number;
  readonly acks: number;
  readonly nacks: number;
  readonly closed: number;
  readonly timedOut: boolean;
}

export interface PushSink {
  proxyConverged(seconds: number, push: Push): void;
  pushDone(push: Push): void;
}


export class Push {
  /**
   * `types` as parallel arrays: every stream walks them on every push, and indexing costs no
   * Map iterator or [key, value] entry per stream.
   */
  readonly typeList: readonly XdsType[];
  readonly nameSets: readonly ReadonlySet<string>[];
  /** stream -> outstanding types x 2, plus 1 once a response carrying this push was written. */
  private readonly pending = new Map<object, number>();
  private sealed = false;
  private done = false;
  fanoutAt = 0;
  completedAt = 0;
  streamsSent = 0;
  acks = 0;
  nacks = 0;
  closed = 0;
  timedOut = false;

  constructor(
    readonly id: number,
    /** performance.now() of the first change in the push. */
    readonly start: number,
    readonly types: ReadonlyMap<XdsType, ReadonlySet<string>>,
    private readonly sink: PushSink,
  ) {
    this.typeList = [...types.keys()];
    this.nameSets = [...types.values()];
  }

  get open(): boolean {
    return !this.done;
  }

  get outstandingStreams(): number {
    return this.pending.size;
  }

  /** A stream has one more type to settle for this push. */
  expect(stream: object): void {
    this.pending.set(stream, (this.pending.get(stream) ?? 0) + 2);
  }

  /** A response carrying this push was written to `stream`. */
  sent(stream: object): void {
    const p = this.pending.get(stream);
    if (p !== undefined && (p & 1) === 0) {
      this.pending.set(stream, p | 1);
      this.streamsSent++;
    }
  }

  satisfy(stream: object, how: Satisfaction): void {
    const p = this.pending.get(stream);
    if (p === undefined) return;
    const responded = (p & 1) === 1;
    const left = how === 'closed' ? 0 : (p >> 1) - 1;
    if (left > 0) {
      this.pending.set(stream, (left << 1) | (p & 1));
      return;
    }
    this.pending.delete(stream);
    if (responded) {
      if (how === 'ack') this.acks++;
      else if (how === 'nack') this.nacks++;
      else if (how === 'closed') this.closed++;
      if (how === 'ack' || how === 'nack') this.sink.proxyConverged((performance.now() - this.start) / 1000, this);
    }
    this.maybeDone();
  }

  /** The fan-out loop is over: no more streams will be added. */
  seal(): void {
    this.sealed = true;
    this.fanoutAt = performance.now();
    this.maybeDone();
  }

  /** Gives up on streams that never answered. */
  expire(): void {
    if (this.done) return;
    this.timedOut = true;
    this.pending.clear();
    this.maybeDone();
  }

  private maybeDone(): void {
    if (this.done || !this.sealed || this.pending.size > 0) return;
    this.done = true;
    this.completedAt = performance.now();
    this.sink.pushDone(this);
  }

  summary(): PushSummary {
    const changes: Record<string, number> = {};
    for (const [t, names] of this.types) changes[t] = names.size;
    return {
      id: this.id,
      changes,
      fanoutMs: this.fanoutAt ? this.fanoutAt - this.start : 0,
      ...(this.done && !this.timedOut ? { convergedMs: this.completedAt - this.start } : {}),
      streamsSent: this.streamsSent,
      acks: this.acks,
      nacks: this.nacks,
      closed: this.closed,
      timedOut: this.timedOut,
    };
  }
}
