// Bounded CI slice of the config fuzzer: malformed manifests never throw, never lose the valid
// documents around them, and every error is a located diagnostic. `npm run fuzz` runs long.
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/config/parse.js';
import { mutatedManifest } from '../../src/fuzz/mutate.js';
import { Rng } from '../../src/topology/generate.js';

const VALID = 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: anchor\n  namespace: pay\nspec:\n  address: 10.9.9.9\n';

describe('config fuzz (bounded slice)', () => {
  it('1,500 mutated manifests: no throw, located diagnostics, valid neighbours kept', () => {
    const rng = new Rng(20261123);
    for (let i = 0; i < 1500; i++) {
      const text = `${VALID}---\n${mutatedManifest(rng)}\n---\n${VALID.replace('anchor', 'anchor2')}`;
      let r: ReturnType<typeof parseManifests>;
      try {
        r = parseManifests(text, `fuzz-${i}.yaml`);
      } catch (err) {
        throw new Error(`parseManifests threw on input #${i} (seed 20261123): ${(err as Error).stack}\n---\n${text.slice(0, 2000)}`);
      }
      const names = r.resources.map((x) => x.resource.metadata.name);
      expect(names, `input #${i}`).toContain('anchor');
      for (const d of r.diagnostics) {
        expect(d.file).toBe(`fuzz-${i}.yaml`);
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.message.length).toBeGreaterThan(0);
      }
    }
  });
});
