// One pino logger per process; tests pass their own (usually level 'silent').
import { pino, type Logger, type LevelWithSilent } from 'pino';

export function createLogger(level: LevelWithSilent | string = process.env['XDSIM_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name: 'xdsim', level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
