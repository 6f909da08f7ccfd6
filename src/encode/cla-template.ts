// A cluster's ClusterLoadAssignment with every locality whole and a one-byte priority slot in
// every group. Views under locality failover differ only in priorities, so each is copied out of
// the template in a few long ranges, plus a byte per group, instead of spliced group by group.
//
// Priority 0 is not written on the wire (proto3 default; protobufjs and istiod's Go encoder both
// leave it out), so a priority-0 group is the one place a view departs from the template: its
// slot is skipped and its length rewritten. Under failover, that is the proxy's own locality.
import { varintSize, writeVarint } from './wire.js';
import { CLA_ENDPOINTS_TAG, localityLbEndpointsTailSize, writeLocalityLbEndpointsTail, type EncodedLocality, type GroupToWrite } from './cla.js';

/** The priority field's tag and a one-byte value. */
const SLOT = 2;
/** Largest priority a one-byte slot holds. */
const MAX_SLOT_PRIORITY = 127;

/** Counters for tests and the perf gate. */
export const templateCounters = { builds: 0, renders: 0 };

export class ClaTemplate {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly sources: readonly EncodedLocality[],
    private readonly weights: readonly number[],
    /** Per group: where its `endpoints` field starts (the tag). */
    private readonly frameStart: Int32Array,
    /** Per group: where its LocalityLbEndpoints content starts (after the length). */
    private readonly contentStart: Int32Array,
    /** Per group: that content's length, slot included. */
    private readonly contentLength: Int32Array,
  ) {}

  /** Whether a template of `localities` would render `groups`, and be worth building for them. */
  static suits(localities: readonly (EncodedLocality & { readonly weight: number })[], groups: readonly GroupToWrite[]): boolean {
    return hasPriorities(groups) && fits(localities, null, groups);
  }

  /** Every locality whole, at its own weight, each with a priority slot. */
  static build(nameField: Uint8Array, localities: readonly (EncodedLocality & { readonly weight: number })[]): ClaTemplate {
    const n = localities.length;
    const frameStart = new Int32Array(n);
    const contentStart = new Int32Array(n);
    const contentLength = new Int32Array(n);
    const weights = new Array<number>(n);
    let total = nameField.length;
    for (let i = 0; i < n; i++) {
      const l = localities[i]!;
      weights[i] = l.weight;
      // Priority 1 stands for any slot value: the slot's size does not depend on it.
      const len = l.body.length + localityLbEndpointsTailSize(l.weight, 1);
      contentLength[i] = len;
      total += 1 + varintSize(len) + len;
    }
    // A plain Uint8Array, not a Buffer: rendering slices it, and a Buffer's subarray costs more.
    const bytes = new Uint8Array(total);
    bytes.set(nameField, 0);
    let pos = nameField.length;
    for (let i = 0; i < n; i++) {
      const l = localities[i]!;
      frameStart[i] = pos;
      bytes[pos++] = CLA_ENDPOINTS_TAG;
      pos = writeVarint(bytes, pos, contentLength[i]!);
      contentStart[i] = pos;
      bytes.set(l.body, pos);
      pos = writeLocalityLbEndpointsTail(bytes, pos + l.body.length, l.weight, 1);
    }
    templateCounters.builds++;
    return new ClaTemplate(bytes, localities, weights, frameStart, contentStart, contentLength);
  }

  /**
   * The ClusterLoadAssignment of `groups`, or undefined unless they are the template's localities,
   * in order, whole, at their own weights, with priorities of one byte.
   */
  render(groups: readonly GroupToWrite[]): Uint8Array | undefined {
    if (!fits(this.sources, this.weights, groups)) return undefined;
    const n = groups.length;
    let dropped = 0;
    for (let i = 0; i < n; i++) if (groups[i]!.priority === 0) dropped += this.droppedAt(i);
    const src = this.bytes;
    const out = Buffer.allocUnsafeSlow(src.length - dropped);
    // Copy runs of groups that keep their slot in one go; rewrite each priority-0 group's frame.
    let runStart = 0;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      if (groups[i]!.priority !== 0) continue;
      const frame = this.frameStart[i]!;
      out.set(src.subarray(runStart, frame), pos);
      pos += frame - runStart;
      const len = this.contentLength[i]! - SLOT;
      out[pos++] = CLA_ENDPOINTS_TAG;
      pos = writeVarint(out, pos, len);
      const content = this.contentStart[i]!;
      out.set(src.subarray(content, content + len), pos);
      pos += len;
      runStart = content + len + SLOT;
    }
    out.set(src.subarray(runStart), pos);
    // Fill the slots that stayed: each has moved back by what the groups before it dropped.
    let shift = 0;
    for (let i = 0; i < n; i++) {
      const p = groups[i]!.priority;
      if (p === 0) shift += this.droppedAt(i);
      else out[this.contentStart[i]! + this.contentLength[i]! - 1 - shift] = p;
    }
    templateCounters.renders++;
    return out;
  }

  /** Bytes a group loses at priority 0: its slot, and a length byte if that crosses a boundary. */
  private droppedAt(i: number): number {
    const len = this.contentLength[i]!;
    return SLOT + varintSize(len) - varintSize(len - SLOT);
  }
}

/**
 * Whether `groups` are `sources`, in order, whole, at their weights (`weights`, else each
 * source's own), with priorities that fit a slot.
 */
function fits(
  sources: readonly (EncodedLocality & { readonly weight?: number })[],
  weights: readonly number[] | null,
  groups: readonly GroupToWrite[],
): boolean {
  const n = sources.length;
  if (groups.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const g = groups[i]!;
    const source = sources[i]!;
    if (g.source !== source || g.endpoints !== source.endpoints || g.priority > MAX_SLOT_PRIORITY) return false;
    if (g.weight !== (weights === null ? source.weight : weights[i])) return false;
  }
  return true;
}

/** Whether some group has a nonzero priority: only then can the template beat splicing. */
function hasPriorities(groups: readonly GroupToWrite[]): boolean {
  for (const g of groups) if (g.priority !== 0) return true;
  return false;
}
