// What packet loss does to a TCP byte stream, for a relay that only sees the stream.
//
// A TCP relay cannot drop packets: the kernel's TCP below it already retransmitted anything lost
// on loopback, and dropping bytes from a stream would corrupt it. What an application behind a
// lossy link actually sees is the stream stalling: the lost segment is retransmitted after the
// retransmission timeout, and everything sent behind it waits (in-order delivery, head-of-line
// blocking). So the model is: each ~MSS-sized segment of a chunk is lost with probability p; if
// any is, that chunk and everything behind it is held one retransmission timeout,
// max(200 ms, 2 x RTT) (Linux's minimum RTO is 200 ms). Fast retransmit, SACK, congestion-window
// collapse and repeated losses of the same segment are not modelled; for packet-level behaviour
// see test/netns (`npm run test:netns`).

/** Bytes per segment when turning a per-packet loss probability into a per-chunk one. */
export const SEGMENT_BYTES = 1448;
/** Linux's minimum retransmission timeout. */
export const MIN_RTO_MS = 200;

/** Retransmission timeout for a link with this round-trip time: max(200 ms, 2 x RTT). */
export function retransmitTimeoutMs(rttMs: number): number {
  return Math.max(MIN_RTO_MS, 2 * rttMs);
}

/** Probability that at least one of the chunk's segments is lost, each with probability `loss`. */
export function chunkLossProbability(bytes: number, loss: number): number {
  if (loss <= 0 || bytes <= 0) return 0;
  if (loss >= 1) return 1;
  const segments = Math.ceil(bytes / SEGMENT_BYTES);
  return 1 - Math.pow(1 - loss, segments);
}

/** The stall (ms) a chunk adds to its stream: one RTO if the draw `u01` (uniform 0..1) says a segment was lost, else 0. */
export function lossStallMs(bytes: number, loss: number, rttMs: number, u01: number): number {
  return u01 < chunkLossProbability(bytes, loss) ? retransmitTimeoutMs(rttMs) : 0;
}
