// Identical responses are encoded once: streams that get the same resources at the same type
// version get the same DiscoveryResponse bytes, nonce included (a nonce only has to be unique
// within a stream, and a stream never gets two different responses under one nonce).
export interface SharedResponse {
  /** The DiscoveryResponse / DeltaDiscoveryResponse message (a view into `framed`). */
  readonly bytes: Buffer;
  /**
   * The same bytes as a gRPC length-prefixed message (flag 0, big-endian length, message): what
   * goes on the wire. Framed once here, so a write to N streams does not frame (allocate and
   * copy) N times; see preframe() in stream/connection.ts.
   */
  readonly framed: Buffer;
  readonly nonce: string;
}

/** `message` behind the 5-byte gRPC message header, uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  // Its own memory, not a slice of Node's shared pool: it lives as long as the cache entry.
  const out = Buffer.allocUnsafeSlow(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export class ResponseCache {
  private readonly entries = new Map<string, SharedResponse>();
  private seq = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries = 10_000) {}

  nextNonce(): string {
    return (++this.seq).toString(36);
  }

  get(key: string, make: (nonce: string) => Buffer): SharedResponse {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const nonce = this.nextNonce();
    const framed = frameMessage(make(nonce));
    const r: SharedResponse = { bytes: framed.subarray(5), framed, nonce };
    // Keys carry type versions, so old entries are dead weight: dropping them all is enough.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, r);
    return r;
  }

  /** Called when resources change: every key from before names an older version. */
  clear(): void {
    this.entries.clear();
  }
}
