// What an agent asking for auto-registration may send (SPEC §6). Node metadata is client input:
// before it becomes a WorkloadEntry it must pass what the API server would ask of that entry
// (names, label syntax, lengths) and what xdsim's own config validation asks of the same entry
// applied as YAML. A refusal says which rule failed; the stream is then refused (xds-hooks.ts).
import { isIP } from 'node:net';
import { formatPath } from '../config/diagnostics.js';
import type { WorkloadEntry } from '../config/resources.js';
import { DOCUMENT_SCHEMAS } from '../config/schemas.js';
import { isDns1123Label, isDns1123Subdomain, semanticIssues } from '../config/semantic.js';
import { compileSchema, translateAjv } from '../config/yaml-validate.js';
import { LABEL_LEGACY_LOCALITY } from '../model/labels.js';
import type { ConnectedProxy } from './connected-proxy.js';
import { autoRegisteredEntryName } from './entry-name.js';

/**
 * INSTANCE_IPS entries accepted. istiod uses the first as the entry's address; the others are
 * checked (each must be an IP) and otherwise ignored, as istiod ignores them for the entry.
 */
export const MAX_INSTANCE_IPS = 16;
/** LABELS entries accepted (Kubernetes has no count limit; an agent needs a handful). */
export const MAX_LABELS = 64;
/** Kubernetes: label values, label names and DNS-1123 labels. */
export const MAX_LABEL_VALUE = 63;

/** Which rule a refusal broke: the log kind, and what tests and dashboards can tell apart. */
export type RefusalKind =
  | 'metadata_type'
  | 'instance_ips'
  | 'ip'
  | 'group'
  | 'namespace'
  | 'network'
  | 'cluster_id'
  | 'service_account'
  | 'labels'
  | 'locality'
  | 'entry_name'
  | 'entry'
  // The proxy's verified identity may not own the entry (identity.ts, istiod's ensureProxyCanControlEntry).
  | 'identity_missing'
  | 'identity_namespace'
  | 'identity_service_account'
  // The proxy's AUTO_REGISTER_GROUP names no WorkloadGroup (istiod's registerWorkload: FailedPrecondition).
  | 'group_missing';

export interface RegistrationRefusal {
  readonly kind: RefusalKind;
  /** The rule and the offending value (clipped), e.g. `INSTANCE_IPS[0] "x" is not an IPv4 or IPv6 address`. */
  readonly message: string;
}

/** One constant text per kind, so the log limiter logs each kind once (per interval). */
export const REFUSAL_LOG_MESSAGE: Readonly<Record<RefusalKind, string>> = {
  metadata_type: 'auto-registration refused: node metadata of the wrong type',
  instance_ips: 'auto-registration refused: invalid INSTANCE_IPS',
  ip: 'auto-registration refused: invalid IP address',
  group: 'auto-registration refused: invalid AUTO_REGISTER_GROUP',
  namespace: 'auto-registration refused: invalid NAMESPACE',
  network: 'auto-registration refused: invalid NETWORK',
  cluster_id: 'auto-registration refused: invalid CLUSTER_ID',
  service_account: 'auto-registration refused: invalid SERVICE_ACCOUNT',
  labels: 'auto-registration refused: invalid LABELS',
  locality: 'auto-registration refused: invalid locality',
  entry_name: 'auto-registration refused: invalid WorkloadEntry name',
  entry: 'auto-registration refused: generated WorkloadEntry fails validation',
  // istiod logs the error itself; these are its texts (the mismatch's values go in the fields).
  identity_missing: 'registration of WorkloadEntry requires a verified identity',
  identity_namespace: 'registration of WorkloadEntry namespace mismatch',
  identity_service_account: 'registration of WorkloadEntry service account mismatch',
  group_missing: 'auto-registration WorkloadEntry failed: cannot find WorkloadGroup',
};

/** Refusals about who the proxy is, not what it sent: istiod ends those streams with the bare error. */
export function isIdentityRefusal(r: RegistrationRefusal): boolean {
  return r.kind === 'identity_missing' || r.kind === 'identity_namespace' || r.kind === 'identity_service_account';
}

/** Metadata keys auto-registration reads that must be strings when present. */
const STRING_KEYS = ['AUTO_REGISTER_GROUP', 'NAMESPACE', 'INSTANCE_IPS', 'NETWORK', 'CLUSTER_ID', 'SERVICE_ACCOUNT', 'WORKLOAD_ENTRY'] as const;

// ---- Kubernetes label syntax (k8s.io/apimachinery/pkg/util/validation) ------------------------

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_CHARS = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_CHARS =
  "must be a lowercase RFC 1123 subdomain (lowercase alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character, at most 253 characters)";

/** Why `key` is not a Kubernetes label key (`[prefix/]name`), or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `a qualified name ${NAME_CHARS}, with an optional DNS subdomain prefix and '/'`;
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') return 'prefix part must be non-empty';
    if (!isDns1123Subdomain(prefix)) return `prefix part ${SUBDOMAIN_CHARS}`;
  }
  if (name === '') return 'name part must be non-empty';
  if (name.length > MAX_LABEL_VALUE) return `name part must be no more than ${MAX_LABEL_VALUE} characters`;
  if (!QUALIFIED_NAME.test(name)) return `name part ${NAME_CHARS}`;
  return undefined;
}

/** Why `value` is not a Kubernetes label value, or undefined when it is one (empty is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > MAX_LABEL_VALUE) return `must be no more than ${MAX_LABEL_VALUE} characters`;
  if (!LABEL_VALUE.test(value)) return `must be empty or ${NAME_CHARS.replace('must ', '')}`;
  return undefined;
}

export const isLabelKey = (key: string): boolean => labelKeyProblem(key) === undefined;
export const isLabelValue = (value: string): boolean => labelValueProblem(value) === undefined;

// ---- the checks -------------------------------------------------------------------------------

/** Whether a proxy asks for auto-registration: AUTO_REGISTER_GROUP set (even to garbage). */
export function wantsAutoRegistration(p: ConnectedProxy): boolean {
  if (p.group) return true;
  const g = p.metadata?.['AUTO_REGISTER_GROUP'];
  return g !== undefined && g !== null && g !== '';
}

/**
 * Everything the proxy itself sent that auto-registration would use: metadata types, every
 * INSTANCE_IPS entry, names, labels, locality and the entry name they make. Undefined: valid.
 * Does not need the WorkloadGroup, so it runs before anything is registered or looked up.
 */
export function checkAutoRegistration(p: ConnectedProxy): RegistrationRefusal | undefined {
  if (p.metadata) {
    const r = checkMetadataTypes(p.metadata) ?? checkInstanceIps(p.metadata['INSTANCE_IPS']);
    if (r) return r;
  }
  const group = p.group ?? '';
  if (!isDns1123Subdomain(group)) return refuse('group', `AUTO_REGISTER_GROUP ${q(group)} ${SUBDOMAIN_CHARS} (a WorkloadGroup name)`);
  if (p.namespace && !isDns1123Label(p.namespace)) {
    return refuse('namespace', `NAMESPACE ${q(p.namespace)} must be a lowercase RFC 1123 label (lowercase alphanumeric characters or '-', starting and ending with an alphanumeric character, at most 63 characters)`);
  }
  if (p.ip) {
    const why = ipProblem(p.ip);
    if (why) return refuse('ip', `address ${q(p.ip)} ${why}`);
  }
  if (p.network) {
    // It ends the entry name and becomes the topology.istio.io/network label.
    const why = labelValueProblem(p.network);
    if (why) return refuse('network', `NETWORK ${q(p.network)} ${why}`);
  }
  const clusterId = p.metadata?.['CLUSTER_ID'];
  if (typeof clusterId === 'string' && clusterId !== '') {
    // Endpoint label topology.istio.io/cluster.
    const why = labelValueProblem(clusterId);
    if (why) return refuse('cluster_id', `CLUSTER_ID ${q(clusterId)} ${why}`);
  }
  const sa = p.metadata?.['SERVICE_ACCOUNT'];
  if (typeof sa === 'string' && sa !== '' && !isDns1123Subdomain(sa)) {
    return refuse('service_account', `SERVICE_ACCOUNT ${q(sa)} ${SUBDOMAIN_CHARS} (a ServiceAccount name)`);
  }
  const labels = checkLabels(p.labels, 'LABELS');
  if (labels) return refuse('labels', labels);
  const locality = checkLocality(p);
  if (locality) return locality;
  if (p.ip) {
    const name = autoRegisteredEntryName(group, p.ip, p.network);
    if (!isDns1123Subdomain(name)) {
      return refuse('entry_name', `WorkloadEntry name ${q(name)} (<group>-<ip>[-<network>]) ${SUBDOMAIN_CHARS}`);
    }
  }
  return undefined;
}

let validateEntryDocument: ReturnType<typeof compileSchema> | undefined;

/**
 * The entry auto-registration would write, through the validation a WorkloadEntry applied as
 * YAML gets (schema, then src/config's semantic checks), plus Kubernetes label syntax on its
 * merged labels (which src/config does not check). Undefined: valid.
 */
export function checkGeneratedEntry(entry: WorkloadEntry): RegistrationRefusal | undefined {
  validateEntryDocument ??= compileSchema(DOCUMENT_SCHEMAS.WorkloadEntry);
  const what = `WorkloadEntry ${clip(`${entry.metadata.namespace}/${entry.metadata.name}`)}`;
  if (!validateEntryDocument(entry)) {
    const f = translateAjv(validateEntryDocument.errors ?? []).find((x) => x.severity === 'error');
    if (f) {
      const msg = f.message ?? (f.got ? `expected ${f.got.expected}, got ${q(JSON.stringify(f.got.data) ?? String(f.got.data))}` : 'invalid');
      return refuse('entry', `${what}: ${formatPath(f.path)}: ${msg}`);
    }
  }
  const issue = semanticIssues(entry).find((i) => i.severity === 'error');
  if (issue) return refuse('entry', `${what}: ${formatPath(issue.path)}: ${clip(issue.message, 300)}`);
  const labels = checkLabels(entry.metadata.labels ?? {}, 'metadata.labels');
  if (labels) return refuse('entry', `${what}: ${labels}`);
  return undefined;
}

function checkMetadataTypes(md: Readonly<Record<string, unknown>>): RegistrationRefusal | undefined {
  for (const k of STRING_KEYS) {
    const v = md[k];
    if (v !== undefined && v !== null && typeof v !== 'string') return refuse('metadata_type', `${k} must be a string, got ${typeName(v)}`);
  }
  const labels = md['LABELS'];
  if (labels === undefined || labels === null) return undefined;
  if (typeof labels !== 'object' || Array.isArray(labels)) return refuse('metadata_type', `LABELS must be a map of strings, got ${typeName(labels)}`);
  let n = 0;
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') return refuse('metadata_type', `LABELS[${q(k)}] must be a string, got ${typeName(v)}`);
    // Checked here too: a map of 100,000 entries must not be walked to the end.
    if (++n > MAX_LABELS) return refuse('labels', `LABELS has more than ${MAX_LABELS} entries`);
  }
  return undefined;
}

function checkInstanceIps(v: unknown): RegistrationRefusal | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  // Counted before splitting: 4 MiB of commas must not become a million strings.
  let commas = 0;
  for (let i = v.indexOf(','); i >= 0 && commas < MAX_INSTANCE_IPS; i = v.indexOf(',', i + 1)) commas++;
  if (commas >= MAX_INSTANCE_IPS) return refuse('instance_ips', `INSTANCE_IPS has more than ${MAX_INSTANCE_IPS} addresses`);
  const ips = v.split(',');
  for (let i = 0; i < ips.length; i++) {
    const why = ips[i] === '' ? 'is empty' : ipProblem(ips[i]!);
    if (why) return refuse('instance_ips', `INSTANCE_IPS[${i}] ${ips[i] === '' ? '' : `${q(ips[i]!)} `}${why}`);
  }
  return undefined;
}

function ipProblem(ip: string): string | undefined {
  if (isIP(ip) === 0) return 'is not an IPv4 or IPv6 address';
  // Node accepts scoped IPv6 (fe80::1%eth0); a zone means nothing to the proxies it is sent to.
  if (ip.includes('%')) return 'has an IPv6 zone; a WorkloadEntry address cannot carry one';
  return undefined;
}

function checkLabels(labels: Readonly<Record<string, string>>, where: string): string | undefined {
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) return `${where} has ${keys.length} entries, more than ${MAX_LABELS}`;
  for (const k of keys) {
    const kw = labelKeyProblem(k);
    if (kw) return `${where} key ${q(k)}: ${kw}`;
    // istio-locality travels with slashes and never reaches the entry (entryFromGroup drops it).
    if (k === LABEL_LEGACY_LOCALITY) continue;
    const v = labels[k]!;
    const vw = labelValueProblem(v);
    if (vw) return `${where}[${q(k)}] value ${q(labels[k]!)}: ${vw}`;
  }
  return undefined;
}

/** node.locality: each part becomes an endpoint label value (topology.kubernetes.io/region, ...). */
function checkLocality(p: ConnectedProxy): RegistrationRefusal | undefined {
  const parts: [string, string][] = [
    ['region', p.locality.region],
    ['zone', p.locality.zone],
    ['sub_zone', p.locality.subZone],
  ];
  for (const [name, v] of parts) {
    if (v === '') continue;
    if (v.includes('/')) return refuse('locality', `locality ${name} ${q(v)} must not contain '/'`);
    const why = labelValueProblem(v);
    if (why) return refuse('locality', `locality ${name} ${q(v)} ${why}`);
  }
  return undefined;
}

function refuse(kind: RefusalKind, message: string): RegistrationRefusal {
  return { kind, message };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `a ${typeof v}`;
}

function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** A client-supplied value quoted for a message: clipped, so a 4 MiB name stays a short line. */
function q(s: string): string {
  return JSON.stringify(clip(s));
}
