// How a command stopped by SIGTERM/SIGINT ends: its last output (a summary) gets a bounded time
// to reach its reader, then the process exits whatever state stdout is in. Without this, pending
// writes to a pipe nobody reads keep the event loop, and so the process, alive for good.
import { drainStdioSinks, stdioSink } from '../server/log-sink.js';

let signalled = false;

/** A command's signal handler calls this: from now on the process ends when the command returns. */
export function noteStopSignal(): void {
  signalled = true;
}

/** Watches stdout and stderr (an EPIPE is no crash, dropped lines are counted). */
export function guardStdio(): void {
  stdioSink(1);
  stdioSink(2);
}

export async function exitIfSignalled(code: number, drainMs = 1_000): Promise<void> {
  if (!signalled) return;
  await drainStdioSinks(drainMs);
  process.exit(code);
}
