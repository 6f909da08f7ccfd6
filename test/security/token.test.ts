import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthenticator, identityMismatch } from '../../src/security/token-authenticator.js';

let auth: TokenAuthenticator;
let authPem: TokenAuthenticator;
let sign: (claims: Record<string, unknown>, opts?: { exp?: string | number; aud?: string; key?: 'good' | 'other' }) => Promise<string>;

beforeAll(async () => {
  const good = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const dir = mkdtempSync(join(tmpdir(), 'xdsim-jwt-'));
  const jwk = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  writeFileSync(join(dir, 'key.pem'), await exportSPKI(good.publicKey));
  auth = await TokenAuthenticator.fromOptions({ jwksFile: join(dir, 'jwks.json') });
  authPem = await TokenAuthenticator.fromOptions({ publicKeyFile: join(dir, 'key.pem'), audiences: ['istio-ca'] });
  sign = (claims, o = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuedAt()
      .setAudience(o.aud ?? 'istio-ca')
      .setExpirationTime(o.exp ?? '1h')
      .sign(o.key === 'other' ? other.privateKey : good.privateKey);
});

describe('TokenAuthenticator', () => {
  it('accepts a valid service-account token (JWKS and PEM)', async () => {
    const t = await sign({ sub: 'system:serviceaccount:pay:pay-sa' });
    await expect(auth.authenticate(`Bearer ${t}`)).resolves.toEqual({ namespace: 'pay', serviceAccount: 'pay-sa', subject: 'system:serviceaccount:pay:pay-sa' });
    await expect(authPem.authenticate(`Bearer ${t}`)).resolves.toMatchObject({ namespace: 'pay' });
  });

  it('reads the kubernetes.io claim of projected tokens', async () => {
    const t = await sign({ sub: 'x', 'kubernetes.io': { namespace: 'db', serviceaccount: { name: 'pg' } } });
    await expect(auth.authenticate(`Bearer ${t}`)).resolves.toMatchObject({ namespace: 'db', serviceAccount: 'pg' });
  });

  it.each([
    ['missing header', async () => undefined, /no bearer token/],
    ['not bearer', async () => 'Basic abc', /not "Bearer <JWT>"/],
    ['garbage', async () => 'Bearer not.a.jwt', /not a JWT/],
    ['expired', async () => `Bearer ${await sign({ sub: 'system:serviceaccount:pay:sa' }, { exp: Math.floor(Date.now() / 1000) - 3600 })}`, /token expired/],
    ['wrong audience', async () => `Bearer ${await sign({ sub: 'system:serviceaccount:pay:sa' }, { aud: 'other' })}`, /claim rejected.*aud/],
    ['wrong key', async () => `Bearer ${await sign({ sub: 'system:serviceaccount:pay:sa' }, { key: 'other' })}`, /signature does not verify/],
    ['not a service account', async () => `Bearer ${await sign({ sub: 'alice' })}`, /not a Kubernetes service account/],
  ])('rejects: %s', async (_n, header, why) => {
    await expect(auth.authenticate(await header())).rejects.toThrow(why);
  });

  it.each([
    [{ namespace: 'pay' }, undefined],
    [{ namespace: 'pay', serviceAccount: 'pay-sa' }, undefined],
    [{ namespace: 'other' }, 'no identities ([spiffe://cluster.local/ns/pay/sa/pay-sa]) matched other/'],
    [{ namespace: 'pay', serviceAccount: 'x' }, 'no identities ([spiffe://cluster.local/ns/pay/sa/pay-sa]) matched pay/x'],
  ])('identity vs claim %j', (claimed, want) => {
    expect(identityMismatch({ namespace: 'pay', serviceAccount: 'pay-sa', subject: '' }, claimed)).toBe(want);
  });
});
