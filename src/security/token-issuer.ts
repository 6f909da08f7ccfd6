// A signing key made at start and the Kubernetes-style service-account tokens it signs: what the
// embedded control plane of `xdsim run` uses so that identity validation stays on (istiod's
// default) without any setup. The tokens look like the projected tokens istioctl writes for a VM
// (`istioctl x workload entry configure`: audience istio-ca, subject
// system:serviceaccount:<ns>:<sa>), so token-authenticator.ts reads them as it reads real ones.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { TokenAuthOptions } from './token-authenticator.js';

export const ISSUER = 'xdsim.local';
export const AUDIENCE = 'istio-ca';

export class TokenIssuer {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {}

  /** An issuer with a key kept in a file (PKCS#8 PEM), e.g. a test cluster's. */
  static fromPrivateKeyPem(pem: string): TokenIssuer {
    const privateKey = createPrivateKey(pem);
    return new TokenIssuer(privateKey, createPublicKey(privateKey));
  }

  privateKeyPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** A fresh EC P-256 key pair (a few milliseconds). */
  static generate(): TokenIssuer {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return new TokenIssuer(privateKey, publicKey);
  }

  /** Options for the authenticator that accepts this issuer's tokens. */
  authOptions(): TokenAuthOptions {
    return { publicKey: this.publicKey, audiences: [AUDIENCE], issuer: ISSUER };
  }

  /** A token for one service account, valid for `ttlSeconds` (default one day). */
  mint(namespace: string, serviceAccount: string, ttlSeconds = 86_400): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount } } })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.privateKey);
  }
}
