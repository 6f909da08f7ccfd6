// Bearer-token authentication on xDS, in the manner of istiod's JWT authenticator: the token is
// verified against a configured public key or JWKS, its expiry and audience are checked, and the
// Kubernetes service account it names becomes the proxy's verified identity.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, importSPKI, jwtVerify, decodeProtectedHeader, type JWTPayload, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { KeyObject } from 'node:crypto';

export interface VerifiedIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly subject: string;
}

export class AuthError extends Error {}

export interface TokenAuthOptions {
  /** A JWKS document (JSON) with the issuer's public keys. */
  jwksFile?: string;
  /** Or a single PEM public key (SPKI). */
  publicKeyFile?: string;
  /** Or a JWKS given as an object (e.g. the embedded control plane's own key: token-issuer.ts). */
  jwks?: JSONWebKeySet;
  /** Or a public key object. */
  publicKey?: KeyObject;
  /** Accepted audiences; istiod's default is `istio-ca`. */
  audiences?: string[];
  /** Required issuer, if set. */
  issuer?: string;
  clockToleranceSec?: number;
}

const SA_PREFIX = 'system:serviceaccount:';

export class TokenAuthenticator {
  private constructor(
    private readonly key: JWTVerifyGetKey,
    private readonly opts: TokenAuthOptions,
  ) {}

  static async fromOptions(opts: TokenAuthOptions): Promise<TokenAuthenticator> {
    if (opts.jwksFile) {
      const jwks = JSON.parse(readFileSync(opts.jwksFile, 'utf8')) as JSONWebKeySet;
      return new TokenAuthenticator(createLocalJWKSet(jwks), opts);
    }
    if (opts.publicKeyFile) {
      const pem = readFileSync(opts.publicKeyFile, 'utf8');
      const keys = new Map<string, Awaited<ReturnType<typeof importSPKI>>>();
      // The algorithm comes from each token's header; import the key once per algorithm.
      const get: JWTVerifyGetKey = async (header) => {
        const alg = header.alg ?? 'RS256';
        let k = keys.get(alg);
        if (!k) keys.set(alg, (k = await importSPKI(pem, alg)));
        return k;
      };
      return new TokenAuthenticator(get, opts);
    }
    if (opts.jwks) return new TokenAuthenticator(createLocalJWKSet(opts.jwks), opts);
    if (opts.publicKey) {
      const key = opts.publicKey;
      return new TokenAuthenticator(async () => key, opts);
    }
    throw new Error('token authentication needs a JWKS or a public key');
  }

  /** Verifies an `authorization` header value; throws AuthError saying why it is refused. */
  async authenticate(authorization: string | undefined): Promise<VerifiedIdentity> {
    if (!authorization) throw new AuthError('no bearer token: send "authorization: Bearer <JWT>"');
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw new AuthError('authorization header is not "Bearer <JWT>"');
    const token = m[1]!;
    try {
      decodeProtectedHeader(token);
    } catch {
      throw new AuthError('bearer token is not a JWT');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        audience: this.opts.audiences ?? ['istio-ca'],
        ...(this.opts.issuer ? { issuer: this.opts.issuer } : {}),
        clockTolerance: this.opts.clockToleranceSec ?? 30,
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why =
        code === 'ERR_JWT_EXPIRED' ? 'token expired' :
        code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' ? `token claim rejected: ${(err as Error).message}` :
        code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'token signature does not verify against the configured keys' :
        code === 'ERR_JWKS_NO_MATCHING_KEY' ? 'no configured key matches the token (kid/alg)' :
        `token rejected: ${(err as Error).message}`;
      throw new AuthError(why);
    }
    return identityOf(payload);
  }
}

/** The service account a Kubernetes token names: `sub` or the `kubernetes.io` claim. */
export function identityOf(p: JWTPayload): VerifiedIdentity {
  const k8s = (p as { 'kubernetes.io'?: { namespace?: string; serviceaccount?: { name?: string } } })['kubernetes.io'];
  if (k8s?.namespace && k8s.serviceaccount?.name) {
    return { namespace: k8s.namespace, serviceAccount: k8s.serviceaccount.name, subject: p.sub ?? '' };
  }
  const sub = p.sub ?? '';
  if (sub.startsWith(SA_PREFIX)) {
    const [namespace = '', serviceAccount = ''] = sub.slice(SA_PREFIX.length).split(':');
    if (namespace && serviceAccount) return { namespace, serviceAccount, subject: sub };
  }
  throw new AuthError(`token subject "${sub}" is not a Kubernetes service account (system:serviceaccount:<ns>:<name>)`);
}

/**
 * The identity must match what the proxy claims to be: its NAMESPACE metadata and, when it sends
 * one, its SERVICE_ACCOUNT (istiod's checkConnectionIdentity). Returns istiod's reason for a
 * mismatch, or undefined.
 */
export function identityMismatch(id: VerifiedIdentity, claimed: { namespace: string; serviceAccount?: string }): string | undefined {
  const nsOk = !claimed.namespace || claimed.namespace === id.namespace;
  const saOk = !claimed.serviceAccount || claimed.serviceAccount === id.serviceAccount;
  if (nsOk && saOk) return undefined;
  return `no identities ([spiffe://cluster.local/ns/${id.namespace}/sa/${id.serviceAccount}]) matched ${claimed.namespace}/${claimed.serviceAccount ?? ''}`;
}
