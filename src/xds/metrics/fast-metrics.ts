// Counters and histograms for the per-stream hot path. prom-client hashes label objects on every
// observation, which at thousands of streams per push costs more than the push bookkeeping
// itself; these keep plain numbers per label value and render in prom-client's shape on scrape.
import type { Registry } from 'prom-client';

interface MetricValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

abstract class FastMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    protected readonly labelName: string | undefined,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  abstract values(): MetricValue[];

  async get(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: 'sum' };
  }

  protected labelsFor(key: string): Record<string, string> {
    return this.labelName ? { [this.labelName]: key } : {};
  }
}

export class FastCounter extends FastMetric {
  private readonly counts = new Map<string, number>();

  constructor(opts: { name: string; help: string; labelName?: string; registers: Registry[] }) {
    super(opts.name, opts.help, 'counter', opts.labelName, opts.registers[0]!);
  }

  /** Adds `n` to the series with label value `label` ('' when the counter has no label). */
  inc(label = '', n = 1): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + n);
  }

  value(label = ''): number {
    return this.counts.get(label) ?? 0;
  }

  values(): MetricValue[] {
    if (this.counts.size === 0 && !this.labelName) return [{ labels: {}, value: 0 }];
    return [...this.counts].map(([k, v]) => ({ labels: this.labelsFor(k), value: v }));
  }
}

class Series {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;
  constructor(n: number) {
    this.buckets = new Float64Array(n);
  }
}

export class FastHistogram extends FastMetric {
  private readonly series = new Map<string, Series>();

  constructor(opts: { name: string; help: string; labelName?: string; buckets: number[]; registers: Registry[] }) {
    super(opts.name, opts.help, 'histogram', opts.labelName, opts.registers[0]!);
    this.bounds = [...opts.buckets].sort((a, b) => a - b);
  }

  private readonly bounds: number[];

  observe(value: number, label = ''): void {
    let s = this.series.get(label);
    if (!s) this.series.set(label, (s = new Series(this.bounds.length)));
    s.sum += value;
    s.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        s.buckets[i]!++;
        break;
      }
    }
  }

  count(label = ''): number {
    return this.series.get(label)?.count ?? 0;
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const [k, s] of this.series) {
      const labels = this.labelsFor(k);
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.buckets[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: acc });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return out;
  }
}
