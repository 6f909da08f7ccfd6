// The shipped quickstart against the istiod peer (istiod's own discovery server): the mesh and
// the timeline's config go in over its apply API, agents and observers connect with a token
// its JWT key verifies, and the zone failure travels through the agents' probes. What the
// scenario checks over the wire (registration as the agents see it, shares as a proxy receives
// them, NACKs, errors) must hold as it does against xdsim; convergence is measured from the
// agents' side and leaked entries read from the peer's debug API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';
import { TokenIssuer } from '../../src/security/token-issuer.js';
import { startIstiodPeer, type IstiodPeer } from './istiod-peer.js';

const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-scenario-istiod-'));
let peer: IstiodPeer | undefined;

let multiNetworkPeer: IstiodPeer | undefined;

afterAll(async () => {
  await peer?.stop();
  await multiNetworkPeer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('quickstart against the istiod peer', () => {
  it('registers, fails over through the agents\' probes and comes back, seen by the observers', async () => {
    const issuer = TokenIssuer.generate();
    const keyFile = path.join(dir, 'key.pem');
    writeFileSync(keyFile, issuer.publicKey.export({ type: 'spki', format: 'pem' }));
    const tokenFile = path.join(dir, 'token.jwt');
    writeFileSync(tokenFile, await issuer.mint('ns-1', 'vm-app'));
    peer = await startIstiodPeer({ files: [], validateIdentity: true, jwtPublicKeyFile: keyFile, extraArgs: ['--grace-period', '5s'] });

    const loaded = await loadScenario('scenarios/quickstart.yaml');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const report = await runScenario(loaded.scenario!, {
      target: { address: peer.xds, applyUrl: `http://${peer.admin}/apply`, debugUrl: `http://${peer.admin}`, tokenFile, name: 'istiod peer' },
      logLevel: 'silent',
    });
    expect(report.target).toMatchObject({ kind: 'remote', name: 'istiod peer' });
    // Every expectation, as against xdsim: convergence seen from the agents, leaked entries
    // from the peer's debug API after its grace period.
    for (const e of report.expectations) expect(e, `${e.name}: ${e.detail}`).toMatchObject({ pass: true });
    expect(report.expectations).toHaveLength(9);
    expect(report.timeline.every((t) => t.ok)).toBe(true);
    expect(report.leakedEntries).toBe(0);
    // The zone's probe flips and the registrations both reached every subscribed agent.
    const cc = report.clientConvergence!;
    expect(cc.byKind.health?.count).toBeGreaterThan(0);
    expect(cc.byKind.registration?.count).toBeGreaterThan(0);
    expect(cc.incomplete).toBe(0);
    // The zone's agents reported their failing probes over xDS.
    expect(report.timeline[0]!.result).toMatch(/22 agent\(s\)' probes fail/);
  }, 180_000);
});

describe('multi-network against the istiod peer', () => {
  it('split horizon through the east-west gateway Service, then without it: the same shares as against xdsim', async () => {
    const issuer = TokenIssuer.generate();
    const keyFile = path.join(dir, 'mn-key.pem');
    writeFileSync(keyFile, issuer.publicKey.export({ type: 'spki', format: 'pem' }));
    const tokenFile = path.join(dir, 'mn-token.jwt');
    writeFileSync(tokenFile, await issuer.mint('payments', 'payment-service'));
    const loaded = await loadScenario('scenarios/multi-network.yaml');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    // The scenario's controlPlane.meshNetworks configures the embedded xdsim; the peer reads it from a file.
    const meshNetworksFile = path.join(dir, 'networks.yaml');
    writeFileSync(meshNetworksFile, stringify(loaded.scenario!.controlPlane.meshNetworks));
    multiNetworkPeer = await startIstiodPeer({ files: [], validateIdentity: true, jwtPublicKeyFile: keyFile, meshNetworksFile, extraArgs: ['--grace-period', '5s'] });
    const report = await runScenario(loaded.scenario!, {
      target: { address: multiNetworkPeer.xds, applyUrl: `http://${multiNetworkPeer.admin}/apply`, debugUrl: `http://${multiNetworkPeer.admin}`, tokenFile, name: 'istiod peer' },
      logLevel: 'silent',
    });
    for (const e of report.expectations) expect(e, `${e.name}: ${e.detail}`).toMatchObject({ pass: true });
    expect(report.expectations).toHaveLength(5);
    expect(report.timeline.map((t) => [t.result, t.ok])).toEqual([['deleted 1', true]]);
  }, 180_000);

  it('identity: each agent set proves its own service account (a token command); the intruders are refused', async () => {
    // Its own peer: validation on, verifying tokens of a key the token command signs with.
    const issuer = TokenIssuer.generate();
    const keyFile = path.join(dir, 'identity-key.pem');
    writeFileSync(keyFile, issuer.publicKey.export({ type: 'spki', format: 'pem' }));
    const signingKey = path.join(dir, 'identity-signing.pem');
    writeFileSync(signingKey, issuer.privateKeyPem());
    const idPeer = await startIstiodPeer({ files: [], validateIdentity: true, jwtPublicKeyFile: keyFile, extraArgs: ['--grace-period', '5s'] });
    try {
      const loaded = await loadScenario('scenarios/identity.yaml');
      const tokenCommand = `XDSIM_TEST_SIGNING_KEY='${signingKey}' '${process.execPath}' --import tsx test/helpers/mint-token.ts`;
      const report = await runScenario(loaded.scenario!, {
        target: { address: idPeer.xds, applyUrl: `http://${idPeer.admin}/apply`, debugUrl: `http://${idPeer.admin}`, tokenCommand, name: 'istiod peer' },
        logLevel: 'silent',
      });
      for (const e of report.expectations) expect(e, `${e.name}: ${e.detail}`).toMatchObject({ pass: true });
      expect(report.expectations.length).toBeGreaterThanOrEqual(3);
    } finally {
      await idPeer.stop();
    }
  }, 180_000);
});

describe('zone-partition against the istiod peer', () => {
  it('zone b cut off for 45 s: istiod drops the zone\'s streams, removes its entries after the grace period, and takes them back once at the heal', async () => {
    // The scenario's controlPlane keepalive (5 s + 3 s) and grace period (10 s) configure the
    // embedded xdsim; the peer gets the same as istiod's flags. The zone's agents reach the peer
    // through the scenario's link relays, the observers directly.
    const zpPeer = await startIstiodPeer({
      files: [],
      validateIdentity: false,
      extraArgs: ['--grace-period', '10s', '--keepalive-interval', '5s', '--keepalive-timeout', '3s'],
    });
    try {
      const loaded = await loadScenario('scenarios/zone-partition.yaml');
      expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const report = await runScenario(loaded.scenario!, {
        target: { address: zpPeer.xds, applyUrl: `http://${zpPeer.admin}/apply`, debugUrl: `http://${zpPeer.admin}`, name: 'istiod peer' },
        logLevel: 'silent',
      });
      for (const e of report.expectations) expect(e, `${e.name}: ${e.detail}`).toMatchObject({ pass: true });
      expect(report.expectations).toHaveLength(11);
      // The peer closed the zone's connections during the cut (its keepalive), so at the heal the
      // relay resets each of the 12 stale agent sides, and the agents reconnect once each.
      expect(report.network!.links.find((l) => l.name === 'zone-b')).toMatchObject({ connections: 24, resetAtHeal: 12, partitions: 1, heals: 1 });
      expect(report.leakedEntries).toBe(0);
    } finally {
      await zpPeer.stop();
    }
  }, 240_000);
});
