// A DestinationRule's outlierDetection as istiod writes it into the Cluster (its
// applyOutlierDetection): success-rate ejection off, each consecutive-error check enforced at
// 100% when its count is above 0, and the panic threshold taken from minHealthPercent.
import { durationProto, parseGoDuration } from '../../config/duration.js';
import type { OutlierDetection as IstioOutlierDetection } from '../../config/resources.js';
import type { Duration, OutlierDetection, Percent } from '../../proto/messages.js';

const ENFORCED = 100;

function duration(s: string | undefined): Duration | undefined {
  if (s === undefined) return undefined;
  // Validation already refused anything that does not parse.
  const ms = parseGoDuration(s);
  return ms === undefined ? undefined : durationProto(ms);
}

/** A count and whether it is enforced: istiod enforces a check only when its count is above 0. */
function counted(n: number): { count: { value: number }; enforcing: { value: number } } {
  return { count: { value: n }, enforcing: { value: n > 0 ? ENFORCED : 0 } };
}

export function outlierDetectionOf(od: IstioOutlierDetection): OutlierDetection {
  const out: OutlierDetection = { enforcing_success_rate: { value: 0 } };
  if (od.consecutive5xxErrors !== undefined) {
    const c = counted(od.consecutive5xxErrors);
    out.consecutive_5xx = c.count;
    out.enforcing_consecutive_5xx = c.enforcing;
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    const c = counted(od.consecutiveGatewayErrors);
    out.consecutive_gateway_failure = c.count;
    out.enforcing_consecutive_gateway_failure = c.enforcing;
  }
  const interval = duration(od.interval);
  if (interval) out.interval = interval;
  const baseEjectionTime = duration(od.baseEjectionTime);
  if (baseEjectionTime) out.base_ejection_time = baseEjectionTime;
  if (od.maxEjectionPercent !== undefined && od.maxEjectionPercent > 0) out.max_ejection_percent = { value: od.maxEjectionPercent };
  if (od.splitExternalLocalOriginErrors) {
    out.split_external_local_origin_errors = true;
    if (od.consecutiveLocalOriginFailures !== undefined && od.consecutiveLocalOriginFailures > 0) {
      out.consecutive_local_origin_failure = { value: od.consecutiveLocalOriginFailures };
      out.enforcing_consecutive_local_origin_failure = { value: ENFORCED };
    }
    out.enforcing_local_origin_success_rate = { value: 0 };
  }
  return out;
}

/**
 * Envoy's healthy_panic_threshold under outlier detection: minHealthPercent, whose default 0 turns
 * panic mode off. Sending unhealthy endpoints forces 0, or Envoy would route to them once too few
 * hosts are healthy.
 */
export function panicThresholdOf(od: IstioOutlierDetection, sendUnhealthy: boolean): Percent {
  return { value: sendUnhealthy ? 0 : (od.minHealthPercent ?? 0) };
}
