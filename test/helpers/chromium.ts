// Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
// messages separated by NUL bytes on fds 3 and 4), so tests can load a page, collect its console
// errors and exceptions, evaluate expressions and take screenshots with the system chromium and
// no npm browser package.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** The chromium binary on PATH (or CHROMIUM_PATH), undefined when there is none. */
export function findChromium(): string | undefined {
  const env = process.env['CHROMIUM_PATH'];
  if (env && existsSync(env)) return env;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    for (const c of CANDIDATES) if (dir && existsSync(join(dir, c))) return join(dir, c);
  }
  return undefined;
}

export interface ConsoleEntry {
  level: string;
  text: string;
}

export class HeadlessChromium {
  /** Console messages, log entries and uncaught exceptions of every page loaded. */
  readonly console: ConsoleEntry[] = [];
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(method: string, params: Record<string, unknown>) => void>();
  private buf = Buffer.alloc(0);
  private session = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
  ) {
    const out = proc.stdio[4] as Readable;
    out.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (let i = this.buf.indexOf(0); i >= 0; i = this.buf.indexOf(0)) {
        const msg = JSON.parse(this.buf.subarray(0, i).toString('utf8')) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown> };
        this.buf = this.buf.subarray(i + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(msg.error.message));
          else p?.resolve(msg.result);
        } else if (msg.method) {
          this.onEvent(msg.method, msg.params ?? {});
        }
      }
    });
  }

  static async launch(binary: string): Promise<HeadlessChromium> {
    const profile = mkdtempSync(join(tmpdir(), 'xdsim-chromium-'));
    const proc = spawn(
      binary,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--hide-scrollbars', `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const b = new HeadlessChromium(proc, profile);
    const { targetInfos } = (await b.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string }[] };
    const page = targetInfos.find((t) => t.type === 'page');
    const targetId = page ? page.targetId : ((await b.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string }).targetId;
    b.session = ((await b.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string }).sessionId;
    await Promise.all([b.send('Page.enable'), b.send('Runtime.enable'), b.send('Log.enable')]);
    return b;
  }

  private onEvent(method: string, p: Record<string, unknown>): void {
    if (method === 'Runtime.consoleAPICalled') {
      const args = (p['args'] as { value?: unknown; description?: string }[] | undefined) ?? [];
      this.console.push({ level: String(p['type']), text: args.map((a) => (a.value !== undefined ? String(a.value) : (a.description ?? ''))).join(' ') });
    } else if (method === 'Runtime.exceptionThrown') {
      const d = p['exceptionDetails'] as { text?: string; exception?: { description?: string } };
      this.console.push({ level: 'exception', text: `${d.text ?? ''} ${d.exception?.description ?? ''}`.trim() });
    } else if (method === 'Log.entryAdded') {
      const e = p['entry'] as { level: string; text: string; url?: string };
      this.console.push({ level: e.level, text: `${e.text}${e.url ? ` (${e.url})` : ''}` });
    }
    for (const l of this.listeners) l(method, p);
  }

  send(method: string, params: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<unknown> {
    const id = ++this.seq;
    const msg = { id, method, params, ...(this.session && !method.startsWith('Target.') ? { sessionId: this.session } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer from chromium within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      (this.proc.stdio[3] as Writable).write(`${JSON.stringify(msg)}\0`);
    });
  }

  /** Loads a URL and waits for its load event. */
  async goto(url: string, timeoutMs = 20_000): Promise<void> {
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(l);
        reject(new Error(`${url}: no load event within ${timeoutMs} ms`));
      }, timeoutMs);
      const l = (method: string) => {
        if (method !== 'Page.loadEventFired') return;
        clearTimeout(timer);
        this.listeners.delete(l);
        resolve();
      };
      this.listeners.add(l);
    });
    await this.send('Page.navigate', { url });
    await loaded;
  }

  /** Waits until an expression is truthy (bounded). */
  async waitFor(expression: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.evaluate(expression)) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** A full-page PNG at `width` CSS pixels. */
  async screenshot(width = 1240): Promise<Buffer> {
    const height = Math.ceil(await this.evaluate<number>('document.documentElement.scrollHeight'));
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    const { data } = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
    return Buffer.from(data, 'base64');
  }

  async close(): Promise<void> {
    await this.send('Browser.close', {}, 5000).catch(() => undefined);
    await new Promise<void>((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      const t = setTimeout(() => {
        this.proc.kill('SIGKILL');
        resolve();
      }, 5000);
      this.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    rmSync(this.profile, { recursive: true, force: true });
  }
}
