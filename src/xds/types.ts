// The xDS resource types xdsim serves, in the order ADS sends them (SPEC §8: CDS, EDS, LDS, RDS).
import { TYPE_URL } from '../proto/index.js';

export type XdsType = 'cds' | 'eds' | 'lds' | 'rds';

export const PUSH_ORDER: readonly XdsType[] = ['cds', 'eds', 'lds', 'rds'];

/** A type's index in PUSH_ORDER: per-type state on a stream lives in arrays, not Maps keyed by type. */
export const TYPE_INDEX: Readonly<Record<XdsType, number>> = { cds: 0, eds: 1, lds: 2, rds: 3 };

export const TYPE_URL_OF: Readonly<Record<XdsType, string>> = Object.freeze({
  cds: TYPE_URL.CLUSTER,
  eds: TYPE_URL.ENDPOINT,
  lds: TYPE_URL.LISTENER,
  rds: TYPE_URL.ROUTE,
});

const BY_URL = new Map<string, XdsType>(Object.entries(TYPE_URL_OF).map(([k, v]) => [v, k as XdsType]));

export function xdsTypeOf(typeUrl: string): XdsType | undefined {
  return BY_URL.get(typeUrl);
}

/** LDS and CDS responses carry the full set and accept wildcard subscriptions; EDS and RDS don't. */
export function isFullStateType(t: XdsType): boolean {
  return t === 'cds' || t === 'lds';
}

/** One resource, encoded once per version and shared by every stream that gets it. */
export interface CachedResource {
  readonly name: string;
  /** Content hash: equal bytes, equal version, also across restarts (helps delta reconnects). */
  readonly version: string;
  /** The serialized resource message. */
  readonly bytes: Uint8Array;
}
