// The istiod peer (istio's real discovery server, test/interop/istiod-peer) answers a real ADS
// client: EDS for the demo mesh, a WorkloadEntry applied at run time in the next push, its admin
// API, bad input refused without harm, and auto-registration behind a bearer JWT as istiod does
// it. Run with `npm run test:interop` (the first Go build of istio takes minutes; then cached).
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildNode, type AgentIdentity } from '../../src/agent/identity.js';
import { TYPE_URL, toObject } from '../../src/proto/index.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../src/proto/messages.js';
import { createAdsClient } from '../../src/proto/services.js';
import { buildIstiodPeer, startIstiodPeer, type IstiodPeer } from './istiod-peer.js';

const CLUSTER = 'outbound|9080||reviews.pay.svc.cluster.local';
const MESH = 'examples/mesh';

interface Cla {
  cluster_name?: string;
  endpoints?: {
    lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } } } }[];
  }[];
}

/** One SotW ADS stream: responses are queued; `next` waits (bounded) for one of a type and ACKs it. */
class AdsStream {
  private readonly client;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private readonly queue: DiscoveryResponse[] = [];
  private wake: (() => void) | undefined;
  error: grpc.ServiceError | undefined;

  constructor(target: string, metadata = new grpc.Metadata()) {
    this.client = createAdsClient(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    this.call = this.client.StreamAggregatedResources(metadata);
    this.call.on('data', (r: DiscoveryResponse) => {
      this.queue.push(r);
      this.wake?.();
    });
    this.call.on('error', (e: grpc.ServiceError) => {
      this.error = e;
      this.wake?.();
    });
  }

  write(req: DiscoveryRequest): void {
    this.call.write(req);
  }

  async next(typeUrl: string, timeoutMs: number): Promise<DiscoveryResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex((r) => r.type_url === typeUrl);
      if (i >= 0) {
        const r = this.queue.splice(i, 1)[0]!;
        this.write({ type_url: typeUrl, version_info: r.version_info ?? '', response_nonce: r.nonce ?? '', resource_names: [CLUSTER] });
        return r;
      }
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${typeUrl} response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Waits until the stream fails (or `timeoutMs` passes: undefined). */
  async failure(timeoutMs: number): Promise<grpc.ServiceError | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.error && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.error;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

function endpointsOf(r: DiscoveryResponse): string[] {
  const out: string[] = [];
  for (const any of r.resources ?? []) {
    const cla = toObject<Cla>('ClusterLoadAssignment', any.value ?? new Uint8Array());
    if (cla.cluster_name !== CLUSTER) continue;
    for (const group of cla.endpoints ?? []) {
      for (const lb of group.lb_endpoints ?? []) {
        const sa = lb.endpoint?.address?.socket_address;
        out.push(`${sa?.address}:${sa?.port_value}`);
      }
    }
  }
  return out.sort();
}

/** The reviews WorkloadEntries of examples/mesh as address:port. */
function expectedReviewsEndpoints(): string[] {
  const text = readFileSync(path.join(MESH, 'reviews-workloadentries.yaml'), 'utf8');
  const out: string[] = [];
  for (const d of parseAllDocuments(text)) {
    const r = d.toJS() as { kind?: string; spec?: { address: string; labels?: Record<string, string>; ports?: Record<string, number> } } | null;
    if (r?.kind !== 'WorkloadEntry' || r.spec?.labels?.['app'] !== 'reviews') continue;
    out.push(`${r.spec.address}:${r.spec.ports?.['http'] ?? 9080}`);
  }
  return out.sort();
}

function sidecar(name: string, ip: string, extra: Partial<AgentIdentity> = {}): AgentIdentity {
  return { name, namespace: 'pay', ip, locality: { region: 'us-east', zone: 'us-east-1a', subZone: 'rack1' }, ...extra };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface WorkloadEntryObject {
  metadata: { name: string; namespace: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  spec: { address?: string; labels?: Record<string, string> };
}

beforeAll(async () => {
  await buildIstiodPeer({ log: (line) => process.stderr.write(`${line}\n`) });
});

describe('istiod peer: the demo mesh', () => {
  let peer: IstiodPeer;
  beforeAll(async () => {
    peer = await startIstiodPeer({ files: [MESH] });
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('answers EDS with the mesh entries, pushes an applied WorkloadEntry, and serves its admin API', async () => {
    const ads = new AdsStream(peer.xds);
    try {
      ads.write({ node: buildNode(sidecar('client', '10.99.0.1')), type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
      const first = await ads.next(TYPE_URL.ENDPOINT, 15_000);
      const expected = expectedReviewsEndpoints();
      expect(expected.length).toBeGreaterThan(0);
      expect(endpointsOf(first)).toEqual(expected);

      await peer.apply(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: reviews-new
  namespace: pay
spec:
  address: 10.10.9.99
  locality: us-east/us-east-1a/rack1
  serviceAccount: reviews
  labels: {app: reviews, version: v1}
  ports: {http: 9080}
`);
      const pushed = await ads.next(TYPE_URL.ENDPOINT, 15_000);
      expect(endpointsOf(pushed)).toEqual([...expected, '10.10.9.99:9080'].sort());

      const entries = (await peer.workloadEntries()) as WorkloadEntryObject[];
      expect(entries.map((e) => e.metadata.name)).toContain('reviews-new');
      expect(entries.map((e) => e.metadata.name)).toContain('reviews-e1a-1');
      const added = entries.find((e) => e.metadata.name === 'reviews-new')!;
      expect(added.spec.address).toBe('10.10.9.99');

      const syncz = await fetch(`http://${peer.admin}/debug/syncz`);
      expect(syncz.status).toBe(200);
      expect(JSON.stringify(await syncz.json())).toContain('client');

      await peer.remove('apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: reviews-new, namespace: pay}\n');
      const removed = await ads.next(TYPE_URL.ENDPOINT, 15_000);
      expect(endpointsOf(removed)).toEqual(expected);
    } finally {
      ads.close();
    }
  });

  it('refuses bad YAML with 400 and keeps serving', async () => {
    const bad = await fetch(`http://${peer.admin}/apply`, { method: 'POST', body: 'kind: [unclosed\n  - : :' });
    expect(bad.status).toBe(400);
    expect((await bad.text()).length).toBeGreaterThan(0);
    const invalid = await fetch(`http://${peer.admin}/apply`, {
      method: 'POST',
      body: 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: broken, namespace: pay}\nspec: {address: "not an address!", ports: {http: 99999999}}\n',
    });
    expect(invalid.status).toBe(400);
    expect((await fetch(`http://${peer.admin}/ready`)).status).toBe(200);
    const entries = (await peer.workloadEntries()) as WorkloadEntryObject[];
    expect(entries.map((e) => e.metadata.name)).not.toContain('broken');
    const ads = new AdsStream(peer.xds);
    try {
      ads.write({ node: buildNode(sidecar('client-2', '10.99.0.2')), type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
      expect(endpointsOf(await ads.next(TYPE_URL.ENDPOINT, 15_000))).toEqual(expectedReviewsEndpoints());
    } finally {
      ads.close();
    }
  });

  it('exports istiod metrics', async () => {
    const res = await fetch(`http://${peer.admin}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/pilot_/);
  });
});

describe('istiod peer: auto-registration behind a bearer JWT', () => {
  let peer: IstiodPeer;
  let dir: string;
  let token: string;
  let es256: (sub: string, o?: { aud?: string; exp?: string | number }) => Promise<string>;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xdsim-istiod-peer-'));
    const keys = await generateKeyPair('RS256', { extractable: true });
    writeFileSync(path.join(dir, 'key.pem'), await exportSPKI(keys.publicKey));
    // A second issuer key as a JWKS (ES256 with a kid), as xdsim's own security tests use.
    const ec = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'k', alg: 'ES256' }] }));
    es256 = (sub, o = {}) =>
      new SignJWT({ sub })
        .setProtectedHeader({ alg: 'ES256', kid: 'k' })
        .setAudience(o.aud ?? 'istio-ca')
        .setIssuedAt()
        .setExpirationTime(o.exp ?? '1h')
        .sign(ec.privateKey);
    writeFileSync(
      path.join(dir, 'group.yaml'),
      `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata:
  name: reviews-vm
  namespace: pay
spec:
  metadata:
    labels: {app: reviews, version: v3}
  template:
    serviceAccount: reviews
    ports: {http: 9080}
`,
    );
    token = await new SignJWT({ sub: 'system:serviceaccount:pay:reviews' })
      .setProtectedHeader({ alg: 'RS256' })
      .setAudience('istio-ca')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(keys.privateKey);
    peer = await startIstiodPeer({
      files: [MESH, path.join(dir, 'group.yaml')],
      jwtPublicKeyFile: path.join(dir, 'key.pem'),
      jwksFile: path.join(dir, 'jwks.json'),
    });
  });
  afterAll(async () => {
    await peer?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const vm = (ip: string) => buildNode(sidecar(`vm-${ip}`, ip, { group: 'reviews-vm', serviceAccount: 'reviews' }));

  it('registers an agent with a valid token, owned by its WorkloadGroup', async () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const ads = new AdsStream(peer.xds, md);
    try {
      ads.write({ node: vm('10.50.0.7'), type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
      await ads.next(TYPE_URL.ENDPOINT, 15_000);
      const entry = await until('the registered WorkloadEntry', 15_000, async () =>
        ((await peer.workloadEntries()) as WorkloadEntryObject[]).find((e) => e.spec.address === '10.50.0.7'),
      );
      expect(entry.metadata.name).toBe('reviews-vm-10.50.0.7');
      expect(entry.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'WorkloadGroup', name: 'reviews-vm', controller: true })]);
      expect(entry.spec.labels).toMatchObject({ app: 'reviews', version: 'v3' });
    } finally {
      ads.close();
    }
  });

  it('refuses the stream of an agent without a token and registers nothing', async () => {
    const ads = new AdsStream(peer.xds);
    try {
      ads.write({ node: vm('10.50.0.8'), type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
      const err = await ads.failure(10_000);
      expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
      await new Promise((r) => setTimeout(r, 500));
      const entries = (await peer.workloadEntries()) as WorkloadEntryObject[];
      expect(entries.find((e) => e.spec.address === '10.50.0.8')).toBeUndefined();
    } finally {
      ads.close();
    }
  });

  it('accepts an ES256 token from the JWKS; refuses expired, wrong-audience and foreign-account tokens', async () => {
    const withToken = (t: string) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${t}`);
      return md;
    };
    const ok = new AdsStream(peer.xds, withToken(await es256('system:serviceaccount:pay:reviews')));
    try {
      ok.write({ node: vm('10.50.0.9'), type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
      await ok.next(TYPE_URL.ENDPOINT, 15_000);
      await until('the ES256-registered WorkloadEntry', 15_000, async () =>
        ((await peer.workloadEntries()) as WorkloadEntryObject[]).find((e) => e.metadata.name === 'reviews-vm-10.50.0.9'),
      );
    } finally {
      ok.close();
    }
    const cases: [string, string, grpc.status][] = [
      ['10.50.0.10', await es256('system:serviceaccount:pay:reviews', { exp: Math.floor(Date.now() / 1000) - 3600 }), grpc.status.UNAUTHENTICATED],
      ['10.50.0.11', await es256('system:serviceaccount:pay:reviews', { aud: 'someone-else' }), grpc.status.UNAUTHENTICATED],
      ['10.50.0.12', await es256('not-a-service-account'), grpc.status.UNAUTHENTICATED],
      // Verified, but for another service account than the proxy claims: istiod's XDS identity check.
      ['10.50.0.13', await es256('system:serviceaccount:pay:other'), grpc.status.PERMISSION_DENIED],
    ];
    for (const [ip, t, code] of cases) {
      const ads = new AdsStream(peer.xds, withToken(t));
      try {
        ads.write({ node: vm(ip), type_url: TYPE_URL.ENDPOINT, resource_names: [CLUSTER] });
        expect((await ads.failure(10_000))?.code, ip).toBe(code);
      } finally {
        ads.close();
      }
    }
    const addresses = ((await peer.workloadEntries()) as WorkloadEntryObject[]).map((e) => e.spec.address);
    for (const [ip] of cases) expect(addresses).not.toContain(ip);
  });
});
