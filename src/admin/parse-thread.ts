// The config parser thread. Parsing and validating YAML costs about 1.2 s per MiB (the yaml
// library's lexer, parser and composer, then TypeBox/Ajv and the semantic checks): on the main
// thread a 4 MiB POST /apply held every xDS stream for ~6 s. Big bodies are parsed here instead,
// on one worker thread started on demand, and only the commit into the store happens on the main
// thread. One body at a time (the admin server runs config requests in turn anyway).
//
// Never left broken: a thread that crashes, runs out of memory or exits fails the body it held
// (500) and is replaced by the next body; one that takes longer than the timeout is terminated
// (503). An idle thread is stopped after a while, returning its heap.
import { Worker } from 'node:worker_threads';
import type { ConfigRequestKind, PreparedRequest, YamlShapeLimits } from './config-requests.js';
import type { ParseJob, ParseReply } from './parse-worker.js';

export const PARSE_WORKER_ENTRY = new URL('./parse-worker-entry.mjs', import.meta.url);

/** A body the thread could not answer for: the HTTP status and message to send. */
export class ParseThreadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ParseThreadOptions {
  /** Longest a body may take on the thread (including the thread's start); then it is terminated. */
  timeoutMs: number;
  /** Idle time after which the thread is stopped; the next body starts a new one. Default 60 s. */
  idleMs?: number;
}

interface Running {
  id: number;
  worker: Worker;
  resolve: (p: PreparedRequest) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class ParseThread {
  private worker: Worker | undefined;
  private running: Running | undefined;
  private ids = 0;
  private closed = false;
  private idle: NodeJS.Timeout | undefined;
  /** Threads started so far: a crash, a timeout or an idle stop means a new one next time. */
  started = 0;

  constructor(private readonly opts: ParseThreadOptions) {}

  /** Whether a body is on the thread now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Parses and validates one body on the thread (prepareConfigRequest there). One at a time. */
  run(kind: ConfigRequestKind, text: string, limits: YamlShapeLimits): Promise<PreparedRequest> {
    if (this.closed) return Promise.reject(new ParseThreadError(503, 'admin server shutting down\n'));
    if (this.running) return Promise.reject(new Error('the config parser thread takes one body at a time'));
    clearTimeout(this.idle);
    const worker = this.worker ?? this.spawn();
    return new Promise<PreparedRequest>((resolve, reject) => {
      const id = ++this.ids;
      const t = this.opts.timeoutMs;
      const limit = t >= 1000 ? `${Math.round(t / 100) / 10} s` : `${t} ms`;
      const timer = setTimeout(
        () => this.lose(worker, new ParseThreadError(503, `parsing the body took longer than ${limit}; nothing applied (split it into smaller requests)\n`)),
        this.opts.timeoutMs,
      );
      this.running = { id, worker, resolve, reject, timer };
      worker.postMessage({ id, kind, text, limits } satisfies ParseJob);
    });
  }

  /** Fault injection and tests: terminates the thread now, as a crash would. False if none runs. */
  async kill(): Promise<boolean> {
    const w = this.worker;
    if (!w) return false;
    await w.terminate();
    return true;
  }

  /** Stops the thread; a body on it gets 503. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idle);
    const w = this.worker;
    if (!w) return;
    this.lose(w, new ParseThreadError(503, 'admin server shutting down\n'));
    await w.terminate();
  }

  private spawn(): Worker {
    const w = new Worker(PARSE_WORKER_ENTRY);
    // Never what keeps the process alive: a body in flight has its HTTP request for that.
    w.unref();
    this.worker = w;
    this.started++;
    w.on('message', (m: ParseReply) => this.answer(w, m));
    w.on('messageerror', (err) => this.lose(w, new ParseThreadError(500, `config parser thread sent an unreadable reply (${err.message}); nothing applied\n`)));
    w.on('error', (err) => this.lose(w, new ParseThreadError(500, `config parser thread failed (${err.message}); nothing applied\n`)));
    w.on('exit', (code) => this.lose(w, new ParseThreadError(500, `config parser thread exited (code ${code}); nothing applied\n`)));
    return w;
  }

  private answer(w: Worker, m: ParseReply): void {
    const r = this.running;
    if (!r || r.worker !== w || r.id !== m.id) return;
    clearTimeout(r.timer);
    this.running = undefined;
    this.idle = setTimeout(() => this.stopIdle(w), this.opts.idleMs ?? 60_000);
    this.idle.unref();
    if (m.ok) {
      r.resolve(m.prepared);
    } else {
      const err = new Error(`config parser thread: ${m.message}`);
      if (m.stack) err.stack = m.stack;
      r.reject(err);
    }
  }

  private stopIdle(w: Worker): void {
    if (this.worker !== w || this.running) return;
    this.worker = undefined;
    void w.terminate();
  }

  /** The thread is gone or going: forget it, and fail the body it held (if still ours). */
  private lose(w: Worker, err: ParseThreadError): void {
    if (this.worker === w) {
      this.worker = undefined;
      void w.terminate();
    }
    const r = this.running;
    if (r && r.worker === w) {
      clearTimeout(r.timer);
      this.running = undefined;
      r.reject(err);
    }
  }
}
