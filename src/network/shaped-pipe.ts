// One direction of one relayed connection: chunks read from the source socket wait in order
// until their delivery time (link-shape.ts's deliveryTime, loss-model.ts's stalls), then are
// written to the destination. A cut direction (a partition) delivers nothing and passes no close:
// its bytes are held as a real partition's unacknowledged segments are, and flow on heal.
//
// Bounded: when more than `maxHeldBytes` wait, the source socket is paused (TCP backpressure to
// the sender, as a full receive window would be) and resumed below half of it. The destination's
// own backpressure (write() returning false) stops delivery until 'drain'. One timer per pipe.
import type { Socket } from 'node:net';
import { deliveryTime, newPipeClock, type DirectionShape, type PipeClock } from './link-shape.js';
import { lossStallMs } from './loss-model.js';

export const DEFAULT_MAX_HELD_BYTES = 8 * 1024 * 1024;

export interface PipeEvents {
  /** Bytes written to the destination. */
  delivered(bytes: number): void;
  /** Bytes now waiting in this pipe (after each change). */
  held(bytes: number): void;
  /** A chunk was stalled one retransmission timeout by the loss model. */
  stalled(): void;
  /** The source's end (FIN) or reset has been passed on: this direction is done. */
  finished(): void;
}

export class ShapedPipe {
  private readonly queue: { data: Buffer; at: number }[] = [];
  private head = 0;
  private heldBytes = 0;
  private readonly clock: PipeClock = newPipeClock();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private waitingDrain = false;
  private paused = false;
  private dest: Socket | undefined;
  /** The source ended (FIN) or was reset; passed on once everything before it is delivered. */
  private sourceClosed: 'end' | 'reset' | undefined;
  private done = false;
  cut = false;

  constructor(
    private src: Socket | undefined,
    private shape: DirectionShape,
    private rttMs: number,
    private readonly random: () => number,
    private readonly events: PipeEvents,
    private readonly maxHeldBytes = DEFAULT_MAX_HELD_BYTES,
  ) {}

  get bytesHeld(): number {
    return this.heldBytes;
  }

  /** Whether the source's close is waiting behind a cut (it must not cross it). */
  get closeHeld(): boolean {
    return this.sourceClosed !== undefined && !this.done;
  }

  setShape(shape: DirectionShape, rttMs: number): void {
    this.shape = shape;
    this.rttMs = rttMs;
  }

  get hasDestination(): boolean {
    return this.dest !== undefined;
  }

  /** Where the bytes come from (paused when too many wait); a dial sets it once connected. */
  setSource(src: Socket): void {
    this.src = src;
    if (this.paused) src.pause();
  }

  /** Where delivered bytes go; a connection accepted during a partition gets it on heal. */
  setDestination(dest: Socket): void {
    this.dest = dest;
    this.pump();
  }

  push(data: Buffer): void {
    if (this.done) return;
    const now = performance.now();
    const stall = this.shape.loss > 0 ? lossStallMs(data.length, this.shape.loss, this.rttMs, this.random()) : 0;
    if (stall > 0) this.events.stalled();
    const at = deliveryTime(this.clock, now, data.length, this.shape, this.shape.jitterMs > 0 ? this.random() : 0.5, stall);
    this.queue.push({ data, at });
    this.heldBytes += data.length;
    this.events.held(this.heldBytes);
    if (this.heldBytes > this.maxHeldBytes && !this.paused) {
      this.paused = true;
      this.src?.pause();
    }
    this.pump();
  }

  /** The source sent FIN (`end`) or was reset: pass it on after what is queued, unless cut. */
  sourceClose(kind: 'end' | 'reset'): void {
    if (this.sourceClosed === 'reset') return;
    this.sourceClosed = kind;
    this.pump();
  }

  setCut(on: boolean): void {
    this.cut = on;
    if (!on) {
      // Bytes held through the cut flow now: none is delivered earlier than its own time.
      this.pump();
    } else if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
    }
  }

  /** Delivers every chunk that is due; arms one timer for the next. */
  pump(): void {
    if (this.cut || this.done || !this.dest || this.waitingDrain) return;
    const dest = this.dest;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const c = this.queue[this.head]!;
      if (c.at > now) break;
      this.queue[this.head] = undefined as never;
      this.head++;
      this.heldBytes -= c.data.length;
      this.events.delivered(c.data.length);
      const more = dest.destroyed ? true : dest.write(c.data);
      if (!more) {
        this.waitingDrain = true;
        dest.once('drain', () => {
          this.waitingDrain = false;
          this.pump();
        });
        break;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.events.held(this.heldBytes);
    if (this.paused && this.heldBytes <= this.maxHeldBytes / 2) {
      this.paused = false;
      this.src?.resume();
    }
    if (this.waitingDrain) return;
    if (this.head < this.queue.length) {
      const at = this.queue[this.head]!.at;
      if (!this.timer || at < this.timerAt) {
        if (this.timer) clearTimeout(this.timer);
        this.timerAt = at;
        this.timer = setTimeout(
          () => {
            this.timer = undefined;
            this.timerAt = Infinity;
            this.pump();
          },
          Math.max(0, Math.ceil(at - now)),
        );
      }
      return;
    }
    if (this.sourceClosed && !this.done) {
      this.done = true;
      if (this.sourceClosed === 'end') dest.end();
      else resetSocket(dest);
      this.events.finished();
    }
  }

  /** Drops everything (the connection is gone). */
  close(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
    this.heldBytes = 0;
    this.events.held(0);
  }
}

/** Destroys with a TCP RST where the socket allows it, else plainly. */
export function resetSocket(s: Socket): void {
  if (s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}
