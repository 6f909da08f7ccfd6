// One pino logger per process; tests pass their own (usually level 'silent').
// Lines go through a non-blocking, bounded sink (log-sink.ts), never pino's default destination,
// whose retry loops can park the process on a stdout nobody reads.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { stdioSink } from './log-sink.js';

export function createLogger(level: LevelWithSilent | string = process.env['XDSIM_LOG_LEVEL'] ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino({ name: 'xdsim', level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stdioSink(fd));
}
