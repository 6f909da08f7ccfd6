// What an agent reports about itself. The fleet implements this once per worker thread and
// records into shared HDR histograms, so an agent costs a few counters, not a histogram each.

export type AgentErrorKind =
  /** The stream failed before the first response (refused, unavailable, reset). */
  | 'connect-failed'
  /** No first response within the connect timeout. */
  | 'connect-timeout'
  /** An established stream ended with a non-OK status. */
  | 'stream-reset'
  /** The server closed an established stream with OK. */
  | 'stream-closed'
  /** A response that could not be parsed. */
  | 'bad-response'
  /** Backoff attempts exhausted: the agent stopped retrying. */
  | 'gave-up';

export interface AgentEvents {
  /** Stream opened until its first response. */
  connected?(agentIndex: number, ms: number): void;
  disconnected?(agentIndex: number): void;
  /** First connect attempt of this identity until its own IP was seen in a ClusterLoadAssignment. */
  edsVisible?(agentIndex: number, ms: number): void;
  /** A health report sent at t until EDS agreed (IP present when healthy, absent when not). */
  healthConverged?(agentIndex: number, ms: number): void;
  /** A response arrived; `latencyMs` is from the push marker, or the gap since the previous one. */
  response?(agentIndex: number, typeUrl: string, bytes: number, latencyMs: number | undefined): void;
  ack?(agentIndex: number, typeUrl: string): void;
  nack?(agentIndex: number, typeUrl: string): void;
  healthReport?(agentIndex: number, healthy: boolean): void;
  error?(agentIndex: number, kind: AgentErrorKind, detail: string): void;
}
