// ClusterLoadAssignment (EDS): the EdsCache already builds and encodes each (cluster, view) once;
// this wraps a view as a resource, once per view object, so streams sharing it share the bytes.
import type { EncodedView } from '../../eds/eds-cache.js';
import { clusterNameField } from '../../encode/cla.js';
import { TYPE_URL } from '../../proto/index.js';
import { EncodedResource } from '../stream/wire.js';
import { contentVersion } from './hash.js';

const wrapped = new WeakMap<EncodedView, EncodedResource>();

export function endpointResource(view: EncodedView): EncodedResource {
  let r = wrapped.get(view);
  if (!r) {
    r = new EncodedResource(TYPE_URL.ENDPOINT, view.cluster, contentVersion(view.bytes), view.bytes);
    wrapped.set(view, r);
  }
  return r;
}

/** Names are client input: the memo is bounded, and cleared rather than evicted piecemeal. */
const EMPTY_MEMO_LIMIT = 10_000;
const empties = new Map<string, EncodedResource>();

/**
 * What istiod answers for a cluster it does not know (its buildEmptyClusterLoadAssignment):
 * `cluster_name` and nothing else. A known cluster with no endpoints encodes to the same bytes,
 * so both carry the same version.
 */
export function emptyEndpointResource(cluster: string): EncodedResource {
  let r = empties.get(cluster);
  if (!r) {
    const bytes = clusterNameField(cluster);
    r = new EncodedResource(TYPE_URL.ENDPOINT, cluster, contentVersion(bytes), bytes);
    if (empties.size >= EMPTY_MEMO_LIMIT) empties.clear();
    empties.set(cluster, r);
  }
  return r;
}

const renamed = new WeakMap<EncodedView, Map<string, EncodedResource>>();

/**
 * `view` under another cluster name: what istiod sends for a subset its DestinationRule does not
 * define (no subset labels to filter by, the rule's port-level policy: the service's cluster, as
 * its EndpointBuilder builds it). The view's bytes start with its own cluster_name field, which
 * is swapped for the asked-for name; the rest is shared as it is.
 */
export function renamedEndpointResource(view: EncodedView, name: string): EncodedResource {
  let byName = renamed.get(view);
  if (!byName) renamed.set(view, (byName = new Map()));
  let r = byName.get(name);
  if (!r) {
    const head = clusterNameField(name);
    const skip = clusterNameField(view.cluster).length;
    const bytes = new Uint8Array(head.length + view.bytes.length - skip);
    bytes.set(head, 0);
    bytes.set(view.bytes.subarray(skip), head.length);
    r = new EncodedResource(TYPE_URL.ENDPOINT, name, contentVersion(bytes), bytes);
    if (byName.size >= EMPTY_MEMO_LIMIT) byName.clear();
    byName.set(name, r);
  }
  return r;
}
