// Resource versions are content hashes: equal bytes give equal versions, across streams and
// restarts, so a delta client reconnecting with initial_resource_versions gets nothing it has.
import { createHash } from 'node:crypto';

export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}
