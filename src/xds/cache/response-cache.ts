// Identical responses are encoded once: streams that get the same resources at the same type
// version get the same DiscoveryResponse bytes, nonce included (a nonce only has to be unique
// within a stream, and a stream never gets two different responses under one nonce).
export interface SharedResponse {
  readonly bytes: Buffer;
  readonly nonce: string;
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
    const r = { bytes: make(nonce), nonce };
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
