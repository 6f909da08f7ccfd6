// Who may own a WorkloadEntry (SPEC §6): istiod's ensureProxyCanControlEntry
// (pilot/pkg/autoregistration/controller.go). With ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY on
// (istiod's default), auto-registration and health checks need the proxy's verified identity
// (a bearer token's service account here) in the entry's namespace and, when the entry names
// one, with the entry's service account. The messages are istiod's, word for word.
import type { WorkloadEntry } from '../config/resources.js';
import type { ConnectedProxy } from './connected-proxy.js';
import type { RegistrationRefusal } from './validation.js';

/** ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY's default in istiod (pilot/pkg/features). */
export const DEFAULT_VALIDATE_IDENTITY = true;

/**
 * The flag as istiod reads it from the environment: unset or unparsable keeps the default
 * (Go's strconv.ParseBool spellings: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False).
 */
export function validateIdentityFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['ISTIO_WORKLOAD_ENTRY_VALIDATE_IDENTITY'];
  if (v === undefined) return DEFAULT_VALIDATE_IDENTITY;
  const b = parseGoBool(v);
  return b ?? DEFAULT_VALIDATE_IDENTITY;
}

/** Go's strconv.ParseBool; undefined for anything else. */
export function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** Go's %q for the plain strings these messages quote. */
const q = (s: string): string => JSON.stringify(s);

/**
 * Why `p` may not register or report health for `entry`, or undefined when it may (or when
 * validation is off). Mirrors istiod's ensureProxyCanControlEntry.
 */
export function identityRefusal(p: ConnectedProxy, entry: Pick<WorkloadEntry, 'metadata' | 'spec'>, validate: boolean): RegistrationRefusal | undefined {
  if (!validate) return undefined;
  const id = p.identity;
  if (!id) return { kind: 'identity_missing', message: 'registration of WorkloadEntry requires a verified identity' };
  if (id.namespace !== entry.metadata.namespace) {
    return { kind: 'identity_namespace', message: `registration of WorkloadEntry namespace mismatch: ${q(id.namespace)} vs ${q(entry.metadata.namespace)}` };
  }
  const sa = entry.spec.serviceAccount ?? '';
  if (sa !== '' && id.serviceAccount !== sa) {
    return { kind: 'identity_service_account', message: `registration of WorkloadEntry service account mismatch: ${q(id.serviceAccount)} vs ${q(sa)}` };
  }
  return undefined;
}
