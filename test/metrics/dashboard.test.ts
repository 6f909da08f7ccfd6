// deploy/grafana/xdsim.json's shape, checked without Grafana: what an import needs (a Prometheus
// datasource variable every panel uses, unique ids, a layout that fits) and queries on metric
// names xdsim serves. Whether every query returns data: test/metrics/prometheus.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { XdsMetrics } from '../../src/xds/metrics/xds-metrics.js';

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
  panels: Panel[];
}

const dash = JSON.parse(readFileSync(new URL('../../deploy/grafana/xdsim.json', import.meta.url), 'utf8')) as Dashboard;
const DS = { type: 'prometheus', uid: '${datasource}' };

describe('Grafana dashboard deploy/grafana/xdsim.json', () => {
  it('has a Prometheus datasource variable and a job variable reading pilot_xds', () => {
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dash.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const vars = Object.fromEntries(dash.templating.list.map((v) => [v.name, v]));
    expect(vars['datasource']).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars['job']).toMatchObject({ type: 'query', datasource: DS, query: { query: 'label_values(pilot_xds, job)' } });
  });

  it('panels: unique ids, inside the 24-column grid without overlapping, every query on the variable datasource', () => {
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dash.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual(DS);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.datasource, p.title).toEqual(DS);
        expect(t.expr, p.title).toContain('job=~"$job"');
      }
    }
  });

  it("queries name only metrics xdsim serves (istiod's names, plus xdsim's refusals and the process's)", async () => {
    const m = new XdsMetrics({ defaultMetrics: true });
    const served = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
    m.close();
    const used = new Set<string>();
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        for (const [name] of t.expr.matchAll(/\b(?:pilot|xdsim|process)_[a-z_]+/g)) used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    expect([...used].filter((n) => !served.has(n))).toEqual([]);
    for (const n of ['pilot_xds', 'pilot_xds_pushes', 'pilot_proxy_convergence_time', 'pilot_total_xds_rejects', 'xdsim_xds_rejected_requests_total', 'process_cpu_seconds_total', 'process_resident_memory_bytes']) {
      expect(used, n).toContain(n);
    }
  });
});
