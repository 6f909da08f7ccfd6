// gRPC transport security for the xDS server and the agents, from PEM files.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

export interface ServerTlsOptions {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  clientCaFile?: string;
}

export function serverCredentials(tls: ServerTlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const ca = tls.clientCaFile ? readFileSync(tls.clientCaFile) : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    ca !== null,
  );
}

export interface ClientTlsOptions {
  /** CA that signed the server certificate (istiod's root-cert.pem). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Name to verify the server certificate against (e.g. istiod.istio-system.svc). */
  sni?: string;
}

export function channelCredentials(tls: ClientTlsOptions | undefined): grpc.ChannelCredentials {
  if (!tls || (!tls.caFile && !tls.certFile)) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    tls.caFile ? readFileSync(tls.caFile) : null,
    tls.keyFile ? readFileSync(tls.keyFile) : null,
    tls.certFile ? readFileSync(tls.certFile) : null,
  );
}

/** Channel options that go with channelCredentials (SNI / target name override). */
export function tlsChannelOptions(tls: ClientTlsOptions | undefined): grpc.ChannelOptions {
  return tls?.sni ? { 'grpc.ssl_target_name_override': tls.sni, 'grpc.default_authority': tls.sni } : {};
}
