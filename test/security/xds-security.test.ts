// xDS over TLS / mTLS with bearer tokens, against the real server on loopback. Certificates come
// from openssl and tokens from jose, both made here at test time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdsClient } from '../../src/proto/services.js';
import { TYPE_URL, toStruct } from '../../src/proto/index.js';
import type { ControlPlane } from '../../src/server/control-plane.js';
import { startPlane } from '../xds/helpers.js';
import { svc, we } from '../helpers/mesh.js';
import { fleetConfig } from '../../src/fleet/config.js';
import { Fleet } from '../../src/fleet/fleet.js';
import type { WorkloadGroup } from '../../src/config/resources.js';

const dir = mkdtempSync(join(tmpdir(), 'xdsim-tls-'));
const f = (n: string) => join(dir, n);
let plane: ControlPlane;
let token: (sub: string, opts?: { exp?: number }) => Promise<string>;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

beforeAll(async () => {
  // A CA, a server certificate for localhost/127.0.0.1, a client certificate.
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=xdsim-test-ca');
  writeFileSync(f('san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${who}`);
    openssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.pem`), '-days', '1', '-extfile', f('san.cnf'));
  }
  const keys = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(f('jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k', alg: 'ES256' }] }));
  token = (sub, o = {}) =>
    new SignJWT({ sub }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setAudience('istio-ca').setIssuedAt().setExpirationTime(o.exp ?? '1h').sign(keys.privateKey);
  const group: WorkloadGroup = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadGroup',
    metadata: { name: 'vms', namespace: 'pay' },
    spec: { metadata: { labels: { app: 'vms' } }, template: { serviceAccount: 'vm-sa', ports: { http: 8080 } } },
  };
  plane = await startPlane([we('vm', { address: '10.0.0.1', labels: { app: 'a' } }), svc('a', { app: 'a' }, [{ port: 80 }]), group], {
    tls: { certFile: f('server.pem'), keyFile: f('server.key'), clientCaFile: f('ca.pem') },
    tokenAuth: { jwksFile: f('jwks.json') },
    // istiod's default: registration needs the token's identity (the fleet test below has it).
    validateIdentity: true,
  });
});

afterAll(async () => {
  await plane?.close();
});

interface Outcome {
  clusters?: number;
  code?: number;
  details?: string;
}

/** Opens ADS, asks for CDS, and reports the first response or the status the stream ends with. */
function attempt(opts: { clientCert?: boolean; authorization?: string; namespace?: string }): Promise<Outcome> {
  const creds = grpc.credentials.createSsl(
    readFileSync(f('ca.pem')),
    opts.clientCert === false ? null : readFileSync(f('client.key')),
    opts.clientCert === false ? null : readFileSync(f('client.pem')),
  );
  const client = createAdsClient(`localhost:${plane.xdsPort}`, creds, { 'grpc.use_local_subchannel_pool': 1 });
  const md = new grpc.Metadata();
  if (opts.authorization) md.set('authorization', opts.authorization);
  return new Promise<Outcome>((resolve) => {
    const call = client.StreamAggregatedResources(md, { deadline: Date.now() + 10_000 });
    const done = (o: Outcome) => {
      call.cancel();
      client.close();
      resolve(o);
    };
    call.on('data', (r: { resources?: unknown[] }) => done({ clusters: r.resources?.length ?? 0 }));
    call.on('error', (e: grpc.ServiceError) => done({ code: e.code, details: e.details }));
    call.write({
      node: { id: 'sidecar~10.0.0.9~vm.pay~pay.svc.cluster.local', metadata: toStruct({ NAMESPACE: opts.namespace ?? 'pay' }) },
      type_url: TYPE_URL.CLUSTER,
    });
  });
}

describe('xDS over mTLS with bearer tokens', () => {
  it('serves a client with a client certificate and a valid token', async () => {
    const r = await attempt({ authorization: `Bearer ${await token('system:serviceaccount:pay:vm-sa')}` });
    expect(r).toEqual({ clusters: 1 });
  });

  it.each([
    ['no token', async () => undefined, /no bearer token/],
    ['garbage token', async () => 'Bearer abc', /not a JWT/],
    ['expired token', async () => `Bearer ${await token('system:serviceaccount:pay:vm-sa', { exp: Math.floor(Date.now() / 1000) - 600 })}`, /token expired/],
    ['not a service account', async () => `Bearer ${await token('bob')}`, /not a Kubernetes service account/],
  ])('refuses %s with UNAUTHENTICATED and why', async (_n, auth, why) => {
    const a = await auth();
    const r = await attempt(a ? { authorization: a } : {});
    expect(r.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(r.details).toMatch(why);
  });

  it('refuses a token for another namespace than the node registers in, as istiod authorizes (PERMISSION_DENIED)', async () => {
    const r = await attempt({ authorization: `Bearer ${await token('system:serviceaccount:other:vm-sa')}` });
    expect(r.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.details).toMatch(/^authorization failed: no identities \(\[spiffe:\/\/cluster.local\/ns\/other\/sa\/vm-sa\]\) matched pay\//);
  });

  it('refuses a client without a certificate (mTLS)', async () => {
    const r = await attempt({ clientCert: false, authorization: `Bearer ${await token('system:serviceaccount:pay:vm-sa')}` });
    expect(r.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('counts the refusals and keeps serving', async () => {
    const text = await (await fetch(`http://127.0.0.1:${plane.adminPort}/metrics`)).text();
    expect(text).toMatch(/xdsim_xds_rejected_requests_total\{reason="unauthenticated"\} [1-9]/);
    expect(text).toMatch(/xdsim_xds_rejected_requests_total\{reason="identity_mismatch"\} 1/);
    expect(await attempt({ authorization: `Bearer ${await token('system:serviceaccount:pay:vm-sa')}` })).toEqual({ clusters: 1 });
  });
});

describe('agents over mTLS with a token file', () => {
  it('register through the secured server', async () => {
    writeFileSync(f('token'), await token('system:serviceaccount:pay:vm-sa'));
    const fleet = new Fleet(
      fleetConfig({
        xds: `localhost:${plane.xdsPort}`,
        count: 5,
        namespace: 'pay',
        group: 'vms',
        durationMs: 4_000,
        workers: 0,
        probe: null,
        tls: { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key'), sni: 'localhost' },
        tokenFile: f('token'),
      }),
    );
    const summary = await fleet.run();
    expect(summary.agents.errors).toBe(0);
    expect(summary.agents.connected).toBe(5);
    const names = plane.store.list('WorkloadEntry', 'pay').map((w) => w.metadata.name).filter((n) => n.startsWith('vms-'));
    expect(names).toHaveLength(5);
  });
});
