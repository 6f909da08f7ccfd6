// The log sink over a real pipe (a FIFO the test holds): lines pass while the reader reads, are
// queued up to the bound and then dropped while it stalls, and are dropped once it is gone (EPIPE);
// drain() is bounded and finish() counts what was still queued. Nothing here may block.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogSink } from '../../src/server/log-sink.js';

const LINE = `${'x'.repeat(99)}\n`;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function pipe(): { reader: number; out: Socket; readAll: () => number; closeReader: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-sink-'));
  const path = join(dir, 'p');
  execFileSync('mkfifo', [path]);
  let reader: number | undefined = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const w = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  // As process.stdout is for a pipe: a libuv stream over the fd.
  const out = new Socket({ fd: w, readable: false, writable: true });
  const closeReader = () => {
    if (reader !== undefined) closeSync(reader);
    reader = undefined;
  };
  cleanups.push(() => {
    out.destroy();
    closeReader();
    rmSync(dir, { recursive: true, force: true });
  });
  const buf = Buffer.alloc(65536);
  const readAll = (): number => {
    let total = 0;
    // Bounded: 1,024 reads of 64 KiB.
    for (let i = 0; i < 1024 && reader !== undefined; i++) {
      try {
        const n = readSync(reader, buf, 0, buf.length, null);
        if (n === 0) break;
        total += n;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }
    return total;
  };
  return { reader, out, readAll, closeReader };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('LogSink', () => {
  it('a reading reader gets every line', async () => {
    const p = pipe();
    const sink = new LogSink(p.out, 64 << 10);
    for (let i = 0; i < 100; i++) sink.write(LINE);
    expect(await sink.drain(2_000)).toBe(true);
    expect(p.readAll()).toBe(100 * LINE.length);
    expect(sink.counts()).toEqual({ written: 100, dropped: 0, queued: 0 });
  });

  it('a stalled reader: lines queue up to the bound, then are dropped and counted; the writer never waits', async () => {
    const p = pipe();
    const bound = 32 << 10;
    const sink = new LogSink(p.out, bound);
    const t0 = Date.now();
    // 5,000 lines = 500 KB: more than the FIFO (64 KiB) and the bound together.
    for (let i = 0; i < 5_000; i++) sink.write(LINE);
    const writeMs = Date.now() - t0;
    await tick();
    const c = sink.counts();
    console.log(`stalled: 5000 lines written in ${writeMs} ms; ${c.written} reached the pipe, ${c.queued} queued, ${c.dropped} dropped`);
    expect(c.written + c.queued + c.dropped).toBe(5_000);
    expect(c.dropped).toBeGreaterThan(3_000);
    expect(c.queued * LINE.length).toBeLessThanOrEqual(bound + LINE.length);
    // drain() gives up at its deadline; finish() counts the queued lines as dropped.
    const d0 = Date.now();
    expect(await sink.drain(200)).toBe(false);
    expect(Date.now() - d0).toBeLessThan(1_000);
    const f = sink.finish();
    expect(f.queued).toBe(0);
    expect(f.dropped).toBe(c.dropped + c.queued);
  });

  it('a vanished reader: EPIPE ends the stream, later lines are dropped, nothing throws', async () => {
    const p = pipe();
    const sink = new LogSink(p.out, 64 << 10);
    sink.write(LINE);
    await sink.drain(1_000);
    p.closeReader();
    // Bounded wait for the error to surface (the next write hits EPIPE).
    for (let i = 0; i < 100 && sink.counts().broken === undefined; i++) {
      sink.write(LINE);
      await tick();
    }
    const c = sink.counts();
    expect(c.broken).toBe('EPIPE');
    const before = c.dropped;
    for (let i = 0; i < 10; i++) expect(sink.write(LINE)).toBe(true);
    expect(sink.counts().dropped).toBe(before + 10);
    expect(await sink.drain(100)).toBe(c.queued === 0);
  });
});
