// process.memoryUsage() reads /proc/self/statm through a file descriptor, so in a process that
// has used up its open-files limit (a fleet holding one socket per agent) it throws EMFILE. A
// progress timer or a final summary must not die of that: these fall back to the last RSS read
// (and to V8's heap figures, which need no descriptor) and say the RSS is stale.
import v8 from 'node:v8';

let lastRss = 0;

export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  /** The RSS is the last one read successfully: reading it now failed (EMFILE, ENFILE...). */
  rssStale: boolean;
}

export function memorySample(): MemorySample {
  try {
    const m = process.memoryUsage();
    lastRss = m.rss;
    return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, rssStale: false };
  } catch {
    const h = v8.getHeapStatistics();
    return { rss: lastRss, heapUsed: h.used_heap_size, external: h.external_memory, rssStale: true };
  }
}

/** The process RSS, or the last one read when reading it fails. */
export function safeRss(): number {
  return memorySample().rss;
}
