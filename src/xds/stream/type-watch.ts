// What a stream tracks per resource type in both protocol variants: the subscription, the last
// response sent, and how the client answered it. SotW and delta extend it with what each needs
// to decide the next response.
import type { RpcStatus } from '../../proto/messages.js';
import type { TypeStatus } from './connection.js';
import { TYPE_URL_OF, type XdsType } from '../types.js';

export interface NackRecord {
  nonce: string;
  message: string;
  at: string;
  /** The same response NACKed again counts here, not as a new rejection. */
  count: number;
}

/** How a client's reply to the current response of a type was taken. */
export type ReplyOutcome = 'ack' | 'nack' | 'duplicate_nack';

export class TypeWatch {
  names = new Set<string>();
  wildcard = false;
  /** Type version the last pure-wildcard response was built at: unchanged means nothing to do. */
  sentTypeVersion = -1;
  /** The next response must go out even if no resource changed. */
  force = false;
  nonce = '';
  /** Version of the last response (version_info, or system_version_info for delta). */
  sentVersion = '';
  ackedVersion = '';
  ackedNonce = '';
  nack: NackRecord | undefined;

  /**
   * Records the client's reply to the current response (`nonce` must be this watch's): an ACK
   * when it has no error_detail, else a NACK, or the same NACK again. `ackedVersion` is what an
   * ACK confirms.
   */
  reply(nonce: string, errorDetail: RpcStatus | null | undefined, ackedVersion: string): ReplyOutcome {
    if (errorDetail && this.nack?.nonce === nonce) {
      this.nack.count++;
      return 'duplicate_nack';
    }
    if (errorDetail) {
      this.nack = { nonce, message: errorDetail.message ?? '', at: new Date().toISOString(), count: 1 };
      return 'nack';
    }
    this.ackedVersion = ackedVersion;
    this.ackedNonce = nonce;
    this.nack = undefined;
    return 'ack';
  }

  /** The /debug/syncz view of this watch. */
  status(t: XdsType, resourcesSent: number): TypeStatus {
    const state = this.nonce === '' ? 'NOT_SENT' : this.nack?.nonce === this.nonce ? 'NACKED' : this.ackedNonce === this.nonce ? 'SYNCED' : 'STALE';
    return {
      type: t,
      typeUrl: TYPE_URL_OF[t],
      wildcard: this.wildcard,
      names: [...this.names].sort(),
      sentVersion: this.sentVersion,
      sentNonce: this.nonce,
      ackedVersion: this.ackedVersion,
      ackedNonce: this.ackedNonce,
      resourcesSent,
      ...(this.nack ? { nack: this.nack } : {}),
      state,
    };
  }

  /** Whether a change of `names` can concern an explicit subscription of this watch. */
  subscribesAny(names: ReadonlySet<string>): boolean {
    if (this.names.size <= names.size) {
      for (const n of this.names) if (names.has(n)) return true;
    } else {
      for (const n of names) if (this.names.has(n)) return true;
    }
    return false;
  }
}
