// istiod deletes disconnected auto-registered entries through one queue worker whose calls are
// rate-limited to 20 per second with a burst of 1 (pilot/pkg/autoregistration: cleanupLimit).
// So a fleet of 1,000 VMs that goes away loses its entries over 50 s after the grace period, not
// at once: what a scenario measures as leaked entries, and the pushes that follow, depend on it.

/** istiod's cleanup rate: deletions per second. */
export const CLEANUP_PER_SECOND = 20;

export class CleanupQueue {
  private readonly tasks: (() => void)[] = [];
  private readonly intervalMs: number;
  /** When the limiter next has a token (epoch ms). */
  private nextAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    perSecond = CLEANUP_PER_SECOND,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = 1000 / perSecond;
  }

  get pending(): number {
    return this.tasks.length;
  }

  /** Runs `task` when the limiter allows, after every task queued before it. */
  push(task: () => void): void {
    if (this.closed) return;
    this.tasks.push(task);
    this.drain();
  }

  close(): void {
    this.closed = true;
    this.tasks.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private drain(): void {
    if (this.timer) return;
    while (this.tasks.length > 0) {
      const now = this.now();
      if (now < this.nextAt) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.drain();
        }, this.nextAt - now);
        this.timer.unref();
        return;
      }
      this.nextAt = Math.max(now, this.nextAt) + this.intervalMs;
      this.tasks.shift()!();
    }
  }
}
