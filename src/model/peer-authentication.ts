// PeerAuthentication: the mTLS mode a workload accepts on a port, as istiod resolves it. xdsim needs
// it for one thing: istiod's EDS mTLS checker sends an `istio` endpoint's tlsMode metadata only
// when the endpoint's effective mode is not DISABLE (and no DestinationRule TLS mode decides).
//
// How istiod resolves it (pilot/pkg/model/authentication.go, pilot/pkg/security/authn):
// - Policies are ordered by creation time, then name, then namespace.
// - A policy without selector labels is namespace-wide, or mesh-wide in the root namespace. Only
//   the first such policy of a namespace counts; later ones are ignored.
// - A policy with selector labels applies to the workloads of its namespace whose labels
//   (topology labels included) contain them; of several, the first in that order wins. One in the
//   root namespace applies to nothing.
// - The mode starts PERMISSIVE; the mesh, namespace and workload policies override it in turn,
//   each unless its mode is UNSET. The workload policy's `portLevelMtls` entry for the endpoint's
//   (target) port, if any, decides last; an UNSET entry takes the workload-level result.
import type { PeerAuthentication, PeerAuthenticationMode } from '../config/resources.js';
import { selectorMatches, type Labels } from './labels.js';

/** What a resolution yields: UNSET never survives it. */
export type EffectiveMtlsMode = Exclude<PeerAuthenticationMode, 'UNSET'>;

/** A PeerAuthentication as stored, with the store's creation timestamp (ISO 8601, UTC). */
export interface StampedPeerAuthentication {
  readonly resource: PeerAuthentication;
  readonly created: string;
}

interface Policy {
  readonly name: string;
  readonly mode: PeerAuthenticationMode;
  /** Non-empty selector labels: a workload policy. */
  readonly selector?: Labels;
  readonly ports?: ReadonlyMap<number, PeerAuthenticationMode>;
}

interface NamespacePolicies {
  /** The namespace-wide (mesh-wide, in the root namespace) policy in effect. */
  wide?: Policy;
  /** Workload policies, oldest first. */
  readonly workload: Policy[];
}

function toPolicy(pa: PeerAuthentication): Policy {
  const labels = pa.spec.selector?.matchLabels;
  const selector = labels && Object.keys(labels).length > 0 ? labels : undefined;
  let ports: Map<number, PeerAuthenticationMode> | undefined;
  if (selector && pa.spec.portLevelMtls) {
    ports = new Map();
    for (const [k, v] of Object.entries(pa.spec.portLevelMtls)) ports.set(Number(k), v.mode ?? 'UNSET');
  }
  return { name: pa.metadata.name, mode: pa.spec.mtls?.mode ?? 'UNSET', ...(selector && { selector }), ...(ports && { ports }) };
}

/** istiod's ordering of policies (configCompareByCreationTime): creation time, name, namespace. */
export function comparePolicies(a: StampedPeerAuthentication, b: StampedPeerAuthentication): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  const an = a.resource.metadata.name;
  const bn = b.resource.metadata.name;
  if (an !== bn) return an < bn ? -1 : 1;
  const ans = a.resource.metadata.namespace;
  const bns = b.resource.metadata.namespace;
  return ans < bns ? -1 : ans > bns ? 1 : 0;
}

/** The policies of a mesh, indexed by namespace; immutable once built. */
export class PeerAuthentications {
  private readonly byNamespace = new Map<string, NamespacePolicies>();

  /** undefined when there is no policy at all: then nothing disables mTLS and callers skip the lookup. */
  static build(policies: readonly StampedPeerAuthentication[], rootNamespace: string): PeerAuthentications | undefined {
    return policies.length === 0 ? undefined : new PeerAuthentications(policies, rootNamespace);
  }

  private constructor(
    policies: readonly StampedPeerAuthentication[],
    readonly rootNamespace: string,
  ) {
    for (const p of [...policies].sort(comparePolicies)) {
      const ns = p.resource.metadata.namespace;
      let entry = this.byNamespace.get(ns);
      if (!entry) this.byNamespace.set(ns, (entry = { workload: [] }));
      const policy = toPolicy(p.resource);
      if (!policy.selector) entry.wide ??= policy;
      else if (ns !== rootNamespace) entry.workload.push(policy);
    }
  }

  /**
   * The effective mode for a workload in `namespace` with `labels` (its topology labels included,
   * as istiod's endpoint labels are) on its port `port`. `labels` may be a function, called only
   * when a workload policy needs them.
   */
  mode(namespace: string, labels: Labels | (() => Labels), port: number): EffectiveMtlsMode {
    let mode: EffectiveMtlsMode = 'PERMISSIVE';
    const mesh = this.byNamespace.get(this.rootNamespace)?.wide;
    if (mesh && mesh.mode !== 'UNSET') mode = mesh.mode;
    if (namespace === this.rootNamespace) return mode;
    const own = this.byNamespace.get(namespace);
    if (!own) return mode;
    if (own.wide && own.wide.mode !== 'UNSET') mode = own.wide.mode;
    if (own.workload.length === 0) return mode;
    const l = typeof labels === 'function' ? labels() : labels;
    const workload = own.workload.find((p) => selectorMatches(p.selector!, l));
    if (!workload) return mode;
    if (workload.mode !== 'UNSET') mode = workload.mode;
    const portMode = workload.ports?.get(port);
    return portMode === undefined || portMode === 'UNSET' ? mode : portMode;
  }

  /** Whether mTLS is disabled for the workload's port: istiod then sends no tlsMode for it. */
  disables(namespace: string, labels: Labels | (() => Labels), port: number): boolean {
    return this.mode(namespace, labels, port) === 'DISABLE';
  }
}

/**
 * The effective mode as a pure function of the policies (and their creation times), for tables:
 * `PeerAuthentications.build(...).mode(...)`, PERMISSIVE when there are none.
 */
export function effectiveMtlsMode(
  policies: readonly StampedPeerAuthentication[],
  rootNamespace: string,
  namespace: string,
  labels: Labels,
  port: number,
): EffectiveMtlsMode {
  return PeerAuthentications.build(policies, rootNamespace)?.mode(namespace, labels, port) ?? 'PERMISSIVE';
}

/**
 * Whether a workload in `namespace` can get a different mode under `after` than under `before`
 * because of policies in `changedNamespaces`: a root-namespace change reaches every namespace.
 */
export function namespaceAffected(changedNamespaces: ReadonlySet<string>, rootNamespace: string, namespace: string): boolean {
  return changedNamespaces.has(rootNamespace) || changedNamespaces.has(namespace);
}
