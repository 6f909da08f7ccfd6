// The metadata istiod puts on every LbEndpoint (its buildEnvoyLbEndpoint + AppendLbEndpointMetadata):
// `istio.workload` for telemetry, and `envoy.transport_socket_match.tlsMode` where mTLS applies.
import type { Workload } from '../model/workload.js';
import type { PeerAuthentications } from '../model/peer-authentication.js';
import { TLS_MODE_DISABLED, TLS_MODE_ISTIO, type Labels } from '../model/labels.js';

const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'] as const;
const CANONICAL_REVISION_LABELS = ['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version'] as const;
/** istiod's default canonical revision, which it leaves out of the workload string. */
const LATEST = 'latest';

function firstLabel(labels: Labels, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = labels[k];
    if (v !== undefined) return v;
  }
  return undefined;
}

/** `<workload>;<namespace>;<canonical name>;<canonical revision>;<cluster>`, istiod's compressed telemetry label. */
export function istioWorkloadString(w: Pick<Workload, 'workloadName' | 'namespace' | 'labels' | 'clusterId'>): string {
  const name = firstLabel(w.labels, CANONICAL_NAME_LABELS) ?? w.workloadName;
  const revision = firstLabel(w.labels, CANONICAL_REVISION_LABELS) ?? '';
  return `${w.workloadName};${w.namespace};${name};${revision === LATEST ? '' : revision};${w.clusterId}`;
}

/**
 * The tlsMode an endpoint is sent with, or undefined for none (istiod's mtlsChecker, then
 * AppendLbEndpointMetadata). A DestinationRule TLS mode for the cluster decides alone: under
 * ISTIO_MUTUAL the entry's own mode is kept, under any other it is dropped. Without one, only an
 * `istio` entry keeps it, and only if PeerAuthentication does not disable mTLS on its port
 * (`peerDisabled`). `disabled` is never sent.
 */
export function endpointTlsMode(workloadTlsMode: string, ruleTlsMode: string | undefined, peerDisabled = false): string | undefined {
  const mtls = ruleTlsMode !== undefined ? ruleTlsMode === 'ISTIO_MUTUAL' : workloadTlsMode === TLS_MODE_ISTIO && !peerDisabled;
  if (!mtls || workloadTlsMode === '' || workloadTlsMode === TLS_MODE_DISABLED) return undefined;
  return workloadTlsMode;
}

/** The tlsMode `w`'s endpoint on `port` is sent with (see endpointTlsMode), PeerAuthentication looked up only when it can matter. */
export function workloadEndpointTlsMode(w: Workload, ruleTlsMode: string | undefined, port: number, peer?: PeerAuthentications): string | undefined {
  const peerDisabled =
    peer !== undefined && ruleTlsMode === undefined && w.tlsMode === TLS_MODE_ISTIO && peer.disables(w.namespace, () => w.priorityLabels, port);
  return endpointTlsMode(w.tlsMode, ruleTlsMode, peerDisabled);
}

/**
 * envoy.config.core.v3.Metadata as a protobufjs plain object. Keys in sorted order, as Go's
 * deterministic marshalling writes them; the bundled Struct type has camelCase Value members.
 * `port` is the endpoint's (target) port and `peer` the mesh's PeerAuthentications, undefined when
 * there are none: only then, for an `istio` entry with no rule TLS mode, is a policy looked up.
 */
export function lbEndpointMetadata(w: Workload, ruleTlsMode: string | undefined, port = 0, peer?: PeerAuthentications): object {
  const tlsMode = workloadEndpointTlsMode(w, ruleTlsMode, port, peer);
  const istio = { fields: { workload: { stringValue: istioWorkloadString(w) } } };
  return {
    filter_metadata:
      tlsMode === undefined
        ? { istio }
        : { 'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: tlsMode } } }, istio },
  };
}
