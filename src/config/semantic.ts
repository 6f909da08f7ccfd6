// Checks that a JSON schema cannot express: name formats, cross-field rules, sums, uniqueness.
// They run on a resource that already passed schema validation, so field types can be trusted.

import type {
  ConnectionPoolSettings,
  DestinationRule,
  KubeService,
  LoadBalancerSettings,
  LocalityLbSetting,
  OutlierDetection,
  PeerAuthentication,
  PortTrafficPolicy,
  Resource,
  ServiceEntry,
  TrafficPolicy,
  WorkloadEntrySpec,
} from './resources.js';
import { formatPath } from './diagnostics.js';
import { parseGoDuration } from './duration.js';

export type Path = (string | number)[];

export interface Issue {
  severity: 'error' | 'warning';
  path: Path;
  message: string;
  /** Where the line should point: the value (default), the key, or the enclosing mapping. */
  at?: 'value' | 'key' | 'parent';
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
// Kubernetes label key (optional DNS prefix + name) and label value.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = LABEL_NAME;
// IANA service name, which is what a named Kubernetes targetPort must be.
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

function isLabelKey(s: string): boolean {
  const slash = s.lastIndexOf('/');
  const prefix = slash >= 0 ? s.slice(0, slash) : undefined;
  const name = slash >= 0 ? s.slice(slash + 1) : s;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}


function checkName(r: Resource, out: Issue[]): void {
  const { name, namespace } = r.metadata;
  if (r.kind === 'Service') {
    // Kubernetes requires Service names to be DNS-1035 labels: they become DNS names.
    if (!(name.length <= 63 && DNS1035_LABEL.test(name)))
      out.push({
        severity: 'error',
        path: ['metadata', 'name'],
        message: `must be a DNS-1035 label (lowercase letters, digits and '-'; starting with a letter, ending with a letter or digit; at most 63 characters), got ${JSON.stringify(name)}`,
      });
  } else if (r.kind === 'Namespace') {
    if (!isDns1123Label(name))
      out.push({
        severity: 'error',
        path: ['metadata', 'name'],
        message: `must be a DNS-1123 label (lowercase letters, digits and '-'; starting and ending with a letter or digit; at most 63 characters), got ${JSON.stringify(name)}`,
      });
  } else if (!isDns1123Subdomain(name)) {
    out.push({
      severity: 'error',
      path: ['metadata', 'name'],
      message: `must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'; starting and ending with a letter or digit; at most 253 characters), got ${JSON.stringify(name)}`,
    });
  }
  if (r.kind !== 'Namespace' && !isDns1123Label(namespace))
    out.push({
      severity: 'error',
      path: ['metadata', 'namespace'],
      message: `must be a DNS-1123 label (lowercase letters, digits and '-'; starting and ending with a letter or digit; at most 63 characters), got ${JSON.stringify(namespace)}`,
    });
}

/** An entry's own fields; `template` entries (WorkloadGroup) get their address from the VM. */
function checkEntry(e: WorkloadEntrySpec, path: Path, template: boolean, out: Issue[]): void {
  if (template) {
    if (e.address)
      out.push({
        severity: 'warning',
        path: [...path, 'address'],
        message: 'ignored in a template: auto-registration takes the address from the connecting VM',
      });
  } else if (e.address === undefined) {
    out.push({ severity: 'error', path: [...path, 'address'], message: 'required field missing', at: 'parent' });
  } else if (e.address.trim() === '') {
    out.push({ severity: 'error', path: [...path, 'address'], message: 'must not be empty' });
  }
  if (e.locality !== undefined) {
    const parts = e.locality.split('/');
    if (parts.length > 3)
      out.push({
        severity: 'error',
        path: [...path, 'locality'],
        message: `expected at most 3 parts region/zone/subzone, got ${parts.length} in ${JSON.stringify(e.locality)}`,
      });
  }
}

/** Locality pattern of `distribute`: up to 3 parts, `*` allowed only as the whole last part. */
function checkLocalityPattern(s: string, path: Path, out: Issue[], at?: 'key'): void {
  const parts = s.split('/');
  if (parts.length > 3) {
    out.push({
      severity: 'error',
      path,
      at,
      message: `expected at most 3 parts region/zone/subzone, got ${parts.length} in ${JSON.stringify(s)}`,
    });
    return;
  }
  const star = parts.findIndex((p) => p.includes('*'));
  if (star >= 0 && (parts[star] !== '*' || star !== parts.length - 1))
    out.push({
      severity: 'error',
      path,
      at,
      message: `'*' may only stand alone as the last part, got ${JSON.stringify(s)}`,
    });
}

/** Whether two distribute patterns can match one locality (a missing part or `*` matches any). */
function patternsOverlap(a: string, b: string): boolean {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < 3; i++) {
    const x = pa[i] ?? '*';
    const y = pb[i] ?? '*';
    if (x === '*' || y === '*') return true;
    if (x !== y) return false;
  }
  return true;
}

/**
 * istiod's validation refuses overlapping localities; the SPEC gives each locality to the first
 * pattern that matches, so xdsim keeps the document and says so.
 */
function warnOverlaps(patterns: readonly string[], pathOf: (i: number) => Path, what: string, out: Issue[], at?: 'key'): void {
  patterns.forEach((p, i) => {
    const earlier = patterns.slice(0, i).find((q) => patternsOverlap(p, q));
    if (earlier === undefined) return;
    out.push({
      severity: 'warning',
      path: pathOf(i),
      at,
      message: `${JSON.stringify(p)} overlaps ${JSON.stringify(earlier)}: istiod's validation rejects overlapping localities; xdsim takes the first ${what} that matches`,
    });
  });
}

/** Topology labels istiod refuses in failoverPriority when failover is also set. */
const LOCALITY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

/** `outlier`: whether the traffic policy in effect has outlierDetection, without which failover does nothing. */
function checkLocalityLb(lb: LocalityLbSetting, path: Path, outlier: boolean, out: Issue[]): void {
  lb.distribute?.forEach((rule, i) => {
    const rp = [...path, 'distribute', i];
    if (rule.from === undefined || rule.from === '')
      out.push({ severity: 'error', path: [...rp, 'from'], message: 'required field missing', at: 'parent' });
    else checkLocalityPattern(rule.from, [...rp, 'from'], out);
    if (rule.to === undefined || Object.keys(rule.to).length === 0) {
      out.push({ severity: 'error', path: [...rp, 'to'], message: 'required field missing', at: 'parent' });
      return;
    }
    let sum = 0;
    for (const [pattern, pct] of Object.entries(rule.to)) {
      sum += pct;
      checkLocalityPattern(pattern, [...rp, 'to', pattern], out, 'key');
      if (pct < 1 || pct > 100) out.push({ severity: 'error', path: [...rp, 'to', pattern], message: `expected a percentage 1..100, got ${pct}` });
    }
    if (sum !== 100)
      out.push({ severity: 'error', path: [...rp, 'to'], message: `percentages must sum to 100, got ${sum}` });
    const to = Object.keys(rule.to);
    warnOverlaps(to, (k) => [...rp, 'to', to[k]!], 'pattern', out, 'key');
  });
  const froms = (lb.distribute ?? []).map((r) => r.from ?? '');
  if (froms.every((f) => f !== '')) warnOverlaps(froms, (i) => [...path, 'distribute', i, 'from'], 'rule', out);
  lb.failover?.forEach((rule, i) => {
    const rp = [...path, 'failover', i];
    for (const side of ['from', 'to'] as const) {
      const v = rule[side];
      if (v === undefined || v === '') {
        out.push({ severity: 'error', path: [...rp, side], message: 'required field missing', at: 'parent' });
      } else if (v.includes('/') || v.includes('*')) {
        out.push({
          severity: 'error',
          path: [...rp, side],
          message: `expected a region (no '/' or '*'), got ${JSON.stringify(v)}`,
        });
      }
    }
    if (rule.from && rule.from === rule.to)
      out.push({
        severity: 'error',
        path: [...rp, 'to'],
        message: `must differ from "from" (both are ${JSON.stringify(rule.from)})`,
      });
  });
  if (lb.distribute?.length && lb.failover?.length)
    out.push({
      severity: 'warning',
      path: [...path, 'failover'],
      at: 'key',
      message: "both distribute and failover are set: istiod's validation rejects this; xdsim applies distribute and ignores failover",
    });
  for (const key of ['failover', 'failoverPriority'] as const) {
    if (!lb[key]?.length || outlier || lb.distribute?.length) continue;
    out.push({
      severity: 'warning',
      path: [...path, key],
      at: 'key',
      message: 'has no effect without outlierDetection in the same traffic policy: istiod then sets no failover priorities',
    });
  }
  if (lb.failover?.length) {
    lb.failoverPriority?.forEach((entry, i) => {
      if (LOCALITY_LABELS.has(entry))
        out.push({
          severity: 'error',
          path: [...path, 'failoverPriority', i],
          message: `${entry} cannot be used together with failover (istiod rejects it: failover already orders by locality)`,
        });
    });
  }
  lb.failoverPriority?.forEach((entry, i) => {
    const eq = entry.indexOf('=');
    const key = eq >= 0 ? entry.slice(0, eq) : entry;
    const value = eq >= 0 ? entry.slice(eq + 1) : undefined;
    const ok = isLabelKey(key) && (value === undefined || (value.length <= 63 && LABEL_VALUE.test(value)));
    if (!ok)
      out.push({
        severity: 'error',
        path: [...path, 'failoverPriority', i],
        message: `expected "label" or "label=value", got ${JSON.stringify(entry)}`,
      });
  });
}

/** Istio's duration rule (agent.ValidateDuration): at least 1ms, in whole milliseconds. */
function checkDuration(v: string | undefined, path: Path, out: Issue[]): void {
  if (v === undefined) return;
  const ms = parseGoDuration(v);
  if (ms === undefined) out.push({ severity: 'error', path, message: `expected a duration such as 10s, 1m30s or 500ms, got ${JSON.stringify(v)}` });
  else if (ms < 1) out.push({ severity: 'error', path, message: `must be at least 1ms, got ${JSON.stringify(v)}` });
  else if (!Number.isInteger(Math.round(ms * 1e6) / 1e6))
    out.push({ severity: 'error', path, message: `only whole milliseconds are supported, got ${JSON.stringify(v)}` });
}

function checkOutlierDetection(od: OutlierDetection, path: Path, out: Issue[]): void {
  for (const field of ['interval', 'baseEjectionTime'] as const) checkDuration(od[field], [...path, field], out);
  if (od.consecutiveErrors !== undefined)
    out.push({
      severity: 'warning',
      path: [...path, 'consecutiveErrors'],
      at: 'key',
      message: 'deprecated and ignored by istiod: use consecutive5xxErrors or consecutiveGatewayErrors',
    });
}

/** Envoy's (and istiod's) primality test for a Maglev table size. */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

/** istiod's validateLoadBalancer, for the parts that shape the Cluster: consistent hashing and warmup. */
function checkLoadBalancer(lb: LoadBalancerSettings, path: Path, out: Issue[]): void {
  const ch = lb.consistentHash;
  if (ch) {
    const chPath = [...path, 'consistentHash'];
    if (ch.minimumRingSize !== undefined && ch.minimumRingSize !== 0) {
      out.push({ severity: 'warning', path: [...chPath, 'minimumRingSize'], at: 'key', message: 'deprecated: use consistentHash.ringHash.minimumRingSize' });
      if (ch.ringHash || ch.maglev)
        out.push({ severity: 'error', path: [...chPath, 'minimumRingSize'], at: 'key', message: 'only one of minimumRingSize or maglev/ringHash can be set' });
    }
    if (ch.ringHash && ch.maglev) out.push({ severity: 'error', path: [...chPath, 'maglev'], at: 'key', message: 'only one of ringHash or maglev can be set' });
    if (ch.maglev) {
      const size = ch.maglev.tableSize ?? 0;
      const p = [...chPath, 'maglev', 'tableSize'];
      if (size === 0) out.push({ severity: 'error', path: [...chPath, 'maglev'], message: 'tableSize must be set for maglev' });
      else if (size >= 5000011) out.push({ severity: 'error', path: p, message: `must be less than 5000011 for maglev, got ${size}` });
      else if (!isPrime(size)) out.push({ severity: 'error', path: p, message: `must be a prime number for maglev, got ${size}` });
    }
  }
  if (lb.warmupDurationSecs !== undefined) checkDuration(lb.warmupDurationSecs, [...path, 'warmupDurationSecs'], out);
  const w = lb.warmup;
  if (w) {
    const wPath = [...path, 'warmup'];
    if (w.duration === undefined) out.push({ severity: 'error', path: wPath, message: 'duration is required' });
    else checkDuration(w.duration, [...wPath, 'duration'], out);
    if (w.minimumPercent !== undefined && w.minimumPercent > 100)
      out.push({ severity: 'error', path: [...wPath, 'minimumPercent'], message: `must be at most 100, got ${w.minimumPercent}` });
    if (w.aggression !== undefined && w.aggression <= 0)
      out.push({ severity: 'error', path: [...wPath, 'aggression'], message: `must be greater than 0, got ${w.aggression}` });
  }
}

/** istiod's validateConnectionPool, for the typed fields. */
function checkConnectionPool(cp: ConnectionPoolSettings, path: Path, out: Issue[]): void {
  if (!cp.tcp && !cp.http) out.push({ severity: 'error', path, message: 'connection pool must have at least one field (tcp or http)' });
  if (cp.tcp?.connectTimeout !== undefined) checkDuration(cp.tcp.connectTimeout, [...path, 'tcp', 'connectTimeout'], out);
}

/** `inheritedOutlier`: a subset's policy merges over the rule's top level, outlierDetection included. */
function checkPolicy(p: PortTrafficPolicy, path: Path, inheritedOutlier: boolean, out: Issue[]): void {
  const lb = p.loadBalancer?.localityLbSetting;
  if (lb) checkLocalityLb(lb, [...path, 'loadBalancer', 'localityLbSetting'], inheritedOutlier || p.outlierDetection !== undefined, out);
  if (p.loadBalancer) checkLoadBalancer(p.loadBalancer, [...path, 'loadBalancer'], out);
  if (p.connectionPool) checkConnectionPool(p.connectionPool, [...path, 'connectionPool'], out);
  if (p.outlierDetection) checkOutlierDetection(p.outlierDetection, [...path, 'outlierDetection'], out);
}

const POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;
const PORT_POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls'] as const;

function checkTrafficPolicy(tp: TrafficPolicy | undefined, path: Path, inheritedOutlier: boolean, out: Issue[]): void {
  if (!tp) return;
  // istiod's validateTrafficPolicy refuses the whole rule for an empty policy.
  const has = tp as Record<string, unknown>;
  if (!POLICY_FIELDS.some((f) => has[f] !== undefined)) out.push({ severity: 'error', path, message: 'traffic policy must have at least one field' });
  checkPolicy(tp, path, inheritedOutlier, out);
  // Port-level settings replace the policy's outlierDetection rather than inherit it.
  tp.portLevelSettings?.forEach((p, i) => {
    const pHas = p as Record<string, unknown>;
    if (!PORT_POLICY_FIELDS.some((f) => pHas[f] !== undefined)) out.push({ severity: 'error', path: [...path, 'portLevelSettings', i], message: 'port traffic policy must have at least one field' });
    checkPolicy(p, [...path, 'portLevelSettings', i], false, out);
  });
}

/**
 * istiod's ValidatePeerAuthentication (pkg/config/validation) with validateWorkloadSelector, and the
 * CRD's limit on selector values (63 characters).
 */
function checkPeerAuthentication(pa: PeerAuthentication, out: Issue[]): void {
  const selector = pa.spec.selector;
  const matchLabels = selector?.matchLabels ?? {};
  const emptySelector = Object.keys(matchLabels).length === 0;
  const ports = pa.spec.portLevelMtls;
  if (ports !== undefined) {
    const keys = Object.keys(ports);
    if (keys.length === 0)
      out.push({ severity: 'error', path: ['spec', 'portLevelMtls'], message: 'port level mTLS, if defined, must have at least one element' });
    else if (emptySelector)
      out.push({
        severity: 'error',
        path: ['spec', 'portLevelMtls'],
        at: 'key',
        message: 'mesh/namespace peer authentication cannot have port level mTLS (it needs a selector with labels)',
      });
    for (const k of keys) {
      const port = /^[0-9]+$/.test(k) ? Number(k) : NaN;
      if (!(port >= 1 && port <= 65535))
        out.push({ severity: 'error', path: ['spec', 'portLevelMtls', k], at: 'key', message: `port must be in range 1..65535, got ${JSON.stringify(k)}` });
    }
  }
  if (selector !== undefined) {
    if (emptySelector)
      out.push({
        severity: 'warning',
        path: ['spec', 'selector'],
        message: 'workload selector specified without labels: the policy applies to the whole namespace (the mesh, in the root namespace)',
      });
    for (const [k, v] of Object.entries(matchLabels)) {
      const path = ['spec', 'selector', 'matchLabels', k];
      if (k === '') out.push({ severity: 'error', path, at: 'key', message: 'empty key is not supported in selector' });
      if (k.includes('*') || v.includes('*'))
        out.push({ severity: 'error', path, message: `wildcard is not supported in selector: ${JSON.stringify(`${k}=${v}`)}` });
      if (v.length > 63) out.push({ severity: 'error', path, message: `selector value longer than 63 characters (${v.length})` });
    }
  }
}

function checkDestinationRule(dr: DestinationRule, out: Issue[]): void {
  checkTrafficPolicy(dr.spec.trafficPolicy, ['spec', 'trafficPolicy'], false, out);
  const topOutlier = dr.spec.trafficPolicy?.outlierDetection !== undefined;
  const seen = new Map<string, number>();
  dr.spec.subsets?.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined)
      out.push({
        severity: 'error',
        path: ['spec', 'subsets', i, 'name'],
        message: `duplicate subset name ${JSON.stringify(s.name)} (also spec.subsets[${first}])`,
      });
    else seen.set(s.name, i);
    checkTrafficPolicy(s.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy'], topOutlier, out);
  });
}

/**
 * Port numbers and names must be unique: both end up in cluster names and lookups. `protocol`
 * separates Kubernetes ports that share a number (53/TCP and 53/UDP).
 */
function checkUniquePorts(
  ports: readonly { name?: string; number: number; protocol?: string }[] | undefined,
  path: Path,
  numberField: string,
  out: Issue[],
): void {
  const numbers = new Map<string, number>();
  const names = new Map<string, number>();
  ports?.forEach((p, i) => {
    const key = `${p.number}/${p.protocol ?? ''}`;
    const n = numbers.get(key);
    if (n !== undefined)
      out.push({
        severity: 'error',
        path: [...path, i, numberField],
        message: `duplicate port ${p.number} (also ${formatPath(path)}[${n}])`,
      });
    else numbers.set(key, i);
    if (p.name) {
      const m = names.get(p.name);
      if (m !== undefined)
        out.push({
          severity: 'error',
          path: [...path, i, 'name'],
          message: `duplicate port name ${JSON.stringify(p.name)} (also ${formatPath(path)}[${m}])`,
        });
      else names.set(p.name, i);
    }
  });
}

function checkServiceEntry(se: ServiceEntry, out: Issue[]): void {
  checkUniquePorts(se.spec.ports, ['spec', 'ports'], 'number', out);
  se.spec.endpoints?.forEach((e, i) => checkEntry(e, ['spec', 'endpoints', i], false, out));
  if (se.spec.workloadSelector && se.spec.endpoints?.length)
    out.push({
      severity: 'error',
      path: ['spec', 'workloadSelector'],
      at: 'key',
      message: 'workloadSelector and endpoints are mutually exclusive',
    });
}

function checkService(svc: KubeService, out: Issue[]): void {
  checkUniquePorts(
    svc.spec.ports?.map((p) => ({ name: p.name, number: p.port, protocol: p.protocol ?? 'TCP' })),
    ['spec', 'ports'],
    'port',
    out,
  );
  svc.spec.ports?.forEach((p, i) => {
    if (typeof p.targetPort === 'string' && !(p.targetPort.length <= 15 && IANA_SVC_NAME.test(p.targetPort) && /[a-z]/.test(p.targetPort)))
      out.push({
        severity: 'error',
        path: ['spec', 'ports', i, 'targetPort'],
        message: /^\d+$/.test(p.targetPort)
          ? `a port number must not be quoted, got ${JSON.stringify(p.targetPort)}`
          : `expected a port name (lowercase letters, digits and '-', at least one letter, at most 15 characters), got ${JSON.stringify(p.targetPort)}`,
      });
  });
  if (svc.spec.clusterIP === 'None')
    out.push({
      severity: 'warning',
      path: ['spec', 'clusterIP'],
      message: 'headless Service accepted; xdsim builds no clusters or endpoints from it',
    });
}

/** All semantic findings for one schema-valid, normalised resource. */
export function semanticIssues(r: Resource): Issue[] {
  const out: Issue[] = [];
  checkName(r, out);
  switch (r.kind) {
    case 'WorkloadEntry':
      checkEntry(r.spec, ['spec'], false, out);
      break;
    case 'WorkloadGroup':
      checkEntry(r.spec.template, ['spec', 'template'], true, out);
      break;
    case 'ServiceEntry':
      checkServiceEntry(r, out);
      break;
    case 'DestinationRule':
      checkDestinationRule(r, out);
      break;
    case 'PeerAuthentication':
      checkPeerAuthentication(r, out);
      break;
    case 'Service':
      checkService(r, out);
      break;
    case 'Namespace':
    case 'ServiceAccount':
      break;
  }
  return out;
}
