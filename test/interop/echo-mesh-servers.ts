// The echo mesh (test/helpers/echo-mesh.ts: backends on 127.0.0.x, WorkloadEntries of echo.pay)
// served by either control plane: xdsim in process, or the istiod peer (istio's real discovery
// server, test/interop/istiod-peer) reading the same YAML from a temporary directory. Both give an
// xDS address for a proxyless bootstrap (proxylessBootstrap) and the ClusterLoadAssignment a node
// gets, fetched over ADS as a client would.
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TYPE_URL, toCanonicalJson, toStruct } from '../../src/proto/index.js';
import type { DiscoveryRequest, DiscoveryResponse, Node } from '../../src/proto/messages.js';
import { createAdsClient } from '../../src/proto/services.js';
import { startControlPlane } from '../../src/server/control-plane.js';
import type { ClaJson } from '../../src/lb/index.js';
import { silent } from '../xds/helpers.js';
import { startIstiodPeer } from './istiod-peer.js';

export type MeshServerKind = 'xdsim' | 'istiod';

export interface MeshServer {
  readonly kind: MeshServerKind;
  /** host:port of its plaintext xDS server. */
  readonly xds: string;
  /** Create or update each YAML document, as POST /apply does on both (WorkloadEntry status included). */
  apply(yaml: string): Promise<void>;
  stop(): Promise<void>;
}

/** xdsim or the istiod peer, serving `yaml` (multi-document) on loopback. */
export async function startMeshServer(kind: MeshServerKind, yaml: string): Promise<MeshServer> {
  if (kind === 'xdsim') {
    const plane = await startControlPlane({
      resources: [],
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      logger: silent,
      processMetrics: false,
      validateIdentity: false,
    });
    const apply = async (docs: string) => {
      const res = await fetch(`http://127.0.0.1:${plane.adminPort}/apply`, { method: 'POST', body: docs });
      if (res.status !== 200) throw new Error(`xdsim /apply: ${res.status} ${await res.text()}`);
    };
    try {
      await apply(yaml);
    } catch (err) {
      await plane.close();
      throw err;
    }
    return { kind, xds: `127.0.0.1:${plane.xdsPort}`, apply, stop: () => plane.close() };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-echo-mesh-'));
  const file = path.join(dir, 'mesh.yaml');
  writeFileSync(file, yaml);
  try {
    const peer = await startIstiodPeer({ files: [file], validateIdentity: false });
    return {
      kind,
      xds: peer.xds,
      apply: (docs) => peer.apply(docs),
      async stop() {
        await peer.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The xDS Node of a proxyless bootstrap's `node` (id, locality, string metadata). */
export function bootstrapNode(bootstrap: object): Node {
  const n = (bootstrap as { node: { id: string; locality: { region: string; zone: string; sub_zone: string }; metadata: Record<string, string> } }).node;
  return { id: n.id, locality: n.locality, metadata: toStruct(n.metadata) };
}

/**
 * The ClusterLoadAssignment `node` receives for `cluster` from the server at `xds`, as canonical
 * JSON: one ADS stream asking EDS for that name, closed after the first answer (bounded).
 */
export async function fetchCla(xds: string, node: Node, cluster: string, timeoutMs = 15_000): Promise<ClaJson> {
  const client = createAdsClient(xds, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = client.StreamAggregatedResources() as grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  try {
    return await new Promise<ClaJson>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no EDS answer for ${cluster} from ${xds} in ${timeoutMs} ms`)), timeoutMs);
      call.on('data', (r: DiscoveryResponse) => {
        for (const any of r.resources ?? []) {
          const cla = toCanonicalJson('ClusterLoadAssignment', any.value ?? new Uint8Array()) as unknown as ClaJson;
          if (cla.clusterName === cluster) {
            clearTimeout(timer);
            resolve(cla);
            return;
          }
        }
      });
      call.on('error', (e: Error) => {
        clearTimeout(timer);
        reject(e);
      });
      call.write({ node, type_url: TYPE_URL.ENDPOINT, resource_names: [cluster] });
    });
  } finally {
    call.cancel();
    client.close();
  }
}
