// Where log lines go: stdout or stderr, without ever blocking the event loop or the exit.
//
// pino's default destination (sonic-boom) retries a write that fails with EAGAIN (a pipe whose
// reader stopped reading) and, in `flushSync` at exit, also one that fails with EPIPE (a pipe
// whose reader is gone), sleeping 100 ms in Atomics.wait between tries and never giving up. A
// server whose parent had exited was found parked there for an hour: its SIGTERM handler is
// JavaScript and never ran. `sync: true` does the same sleep inside every log call.
//
// Here lines go through Node's own stream for the fd (for a pipe or socket: libuv, non-blocking,
// written when epoll says it can be), at most `maxQueuedBytes` may wait in memory, and what does
// not fit, fails, or is still queued when the process exits is dropped and counted: a stalled or
// vanished reader costs log lines, never a stuck control plane.
import type { Writable } from 'node:stream';

export interface LogSinkCounts {
  /** Lines handed to the kernel. */
  written: number;
  /** Lines refused (queue full, stream broken) or failed; lines still queued when counted at exit are added by `finish`. */
  dropped: number;
  /** Lines waiting in memory for the reader. */
  queued: number;
  /** Why the stream stopped taking lines for good (EPIPE: the reader is gone), if it did. */
  broken?: string;
}

export const DEFAULT_MAX_QUEUED_BYTES = 1 << 20;

type OutStream = Writable & { writableLength: number };

export class LogSink {
  private written = 0;
  private dropped = 0;
  private queued = 0;
  private broken: string | undefined;
  private finished = false;
  private readonly onWritten = (err?: Error | null): void => {
    if (this.finished) return;
    this.queued--;
    if (err) this.dropped++;
    else this.written++;
  };

  constructor(
    private readonly stream: OutStream,
    private readonly maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES,
  ) {
    // Without a listener an EPIPE on stdout is an uncaught exception; with one the stream is
    // simply done (nothing more can reach a reader that is gone).
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.broken ??= err.code ?? err.message;
    });
  }

  /** pino's destination interface: one serialized line. Never throws, never waits. */
  write(line: string): boolean {
    if (this.broken !== undefined || this.stream.destroyed || this.stream.writableLength >= this.maxQueuedBytes) {
      this.dropped++;
      return true;
    }
    this.queued++;
    try {
      this.stream.write(line, this.onWritten);
    } catch (err) {
      // A file on a full disk (SyncWriteStream throws from writeSync): this line is lost, later ones may fit.
      this.queued--;
      this.dropped++;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'EBADF') this.broken ??= code;
    }
    return true;
  }

  counts(): LogSinkCounts {
    return { written: this.written, dropped: this.dropped, queued: this.queued, ...(this.broken !== undefined ? { broken: this.broken } : {}) };
  }

  /**
   * Waits (without blocking the loop) until everything queued on the stream is written or `timeoutMs` passes;
   * true when nothing is left. What is left is lost at exit: `finish` counts it.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    // Bounded by the deadline; 10 ms steps are plenty for a last flush.
    // writableLength: other writes to the same stream (a command's summary) count too.
    const pending = (): boolean => this.queued > 0 || this.stream.writableLength > 0;
    while (pending() && this.broken === undefined && !this.stream.destroyed && Date.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(10, Math.max(1, end - Date.now()))));
    }
    return !pending();
  }

  /** Counts lines still queued as dropped (call just before exiting) and returns the totals. */
  finish(): LogSinkCounts {
    if (!this.finished) {
      this.dropped += this.queued;
      this.queued = 0;
      // Later callbacks (there should be none after exit) must not count them twice.
      this.finished = true;
    }
    return this.counts();
  }
}

const sinks = new Map<OutStream, LogSink>();

/** The one sink for process.stdout (fd 1) or process.stderr (fd 2). */
export function stdioSink(fd: 1 | 2): LogSink {
  const stream = (fd === 1 ? process.stdout : process.stderr) as OutStream;
  let s = sinks.get(stream);
  // XDSIM_LOG_QUEUE_BYTES: how much may wait for a slow reader before lines are dropped (tests lower it).
  const env = Number(process.env['XDSIM_LOG_QUEUE_BYTES']);
  if (!s) sinks.set(stream, (s = new LogSink(stream, Number.isFinite(env) && env > 0 ? env : DEFAULT_MAX_QUEUED_BYTES)));
  return s;
}

/** Totals over this process's stdio sinks (the `xdsim_log_lines_dropped_total` metric). */
export function stdioSinkTotals(): LogSinkCounts {
  const t: LogSinkCounts = { written: 0, dropped: 0, queued: 0 };
  for (const s of sinks.values()) {
    const c = s.counts();
    t.written += c.written;
    t.dropped += c.dropped;
    t.queued += c.queued;
    if (c.broken !== undefined) t.broken ??= c.broken;
  }
  return t;
}

/** Bounded wait for every stdio sink's queue; then counts what is left as dropped. */
export async function drainStdioSinks(timeoutMs: number): Promise<LogSinkCounts> {
  await Promise.all([...sinks.values()].map((s) => s.drain(timeoutMs)));
  for (const s of sinks.values()) s.finish();
  return stdioSinkTotals();
}

/** Counts what every stdio sink still has queued as dropped (just before a hard exit). */
export function finishStdioSinks(): LogSinkCounts {
  for (const s of sinks.values()) s.finish();
  return stdioSinkTotals();
}
