// The shipped quickstart against the istiod peer (istiod's own discovery server): the mesh and
// the timeline's config go in over its apply API, agents and observers connect with a token
// its JWT key verifies, and the zone failure travels through the agents' probes. What the
// scenario checks over the wire (registration as the agents see it, shares as a proxy receives
// them, NACKs, errors) must hold as it does against xdsim; what only the embedded control plane
// exposes (push convergence, leaked entries) is reported as not measured.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/scenario/runner.js';
import { TokenIssuer } from '../../src/security/token-issuer.js';
import { startIstiodPeer, type IstiodPeer } from './istiod-peer.js';

const dir = mkdtempSync(path.join(tmpdir(), 'xdsim-scenario-istiod-'));
let peer: IstiodPeer | undefined;

afterAll(async () => {
  await peer?.stop();
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
      target: { address: peer.xds, applyUrl: `http://${peer.admin}/apply`, tokenFile, name: 'istiod peer' },
      logLevel: 'silent',
    });
    expect(report.target).toMatchObject({ kind: 'remote', name: 'istiod peer' });
    const byName = Object.fromEntries(report.expectations.map((e) => [e.name, e]));
    for (const name of ['every agent registered', 'traffic stays in the local zone', 'zone down, traffic fails over inside the region', 'zone back, traffic back home', 'nacks <= 0', 'errors <= 0']) {
      expect(byName[name], `${name}: ${byName[name]?.detail}`).toMatchObject({ pass: true });
    }
    expect(report.timeline.every((t) => t.ok)).toBe(true);
    // Not measured against a remote target yet (issue 12: client-side convergence, the target's debug API).
    expect(byName['pushes converge, ramp-up included']).toMatchObject({ pass: false, detail: expect.stringContaining('no push converged') });
    expect(report.notes.join('\n')).toMatch(/leaked entries are not measured against istiod peer/);
  }, 180_000);
});
