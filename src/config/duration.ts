// Durations as Istio's APIs and istiod's flags spell them: Go's time.ParseDuration syntax
// ("10s", "1m30s", "1.5h", "100ms", "250us"). parse-duration reads the value; it also accepts
// loose spellings ("1 hour", "5") and misreads some ("1.s"), so a strict pattern decides what
// counts as a duration first.
import parse from 'parse-duration';

const COMPONENT = String.raw`(?:\d+(?:\.\d+)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)`;

/** The Go spelling, for schemas: one or more number+unit components, or a bare 0. */
export const GO_DURATION_PATTERN = `^(?:0|(?:${COMPONENT})+)$`;
const GO_DURATION = new RegExp(GO_DURATION_PATTERN);

/** Milliseconds (fractional below 1 ms) of a Go-style duration, or undefined if it is not one. */
export function parseGoDuration(s: string): number | undefined {
  if (!GO_DURATION.test(s)) return undefined;
  if (s === '0') return 0;
  // Go takes both micro signs; parse-duration knows the one in its unit table.
  const ms = parse(s.replaceAll('μ', 'µ'));
  return ms === null || !Number.isFinite(ms) ? undefined : ms;
}

/** google.protobuf.Duration of a millisecond count (whole nanoseconds). */
export function durationProto(ms: number): { seconds: number; nanos: number } {
  const totalNanos = Math.round(ms * 1e6);
  const seconds = Math.floor(totalNanos / 1e9);
  return { seconds, nanos: totalNanos - seconds * 1e9 };
}
