// ClusterLoadAssignment (EDS): the EdsCache already builds and encodes each (cluster, view) once;
// this wraps a view as a resource, once per view object, so streams sharing it share the bytes.
import type { EncodedView } from '../../eds/eds-cache.js';
import { TYPE_URL } from '../../proto/index.js';
import { EncodedResource } from '../wire.js';
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
