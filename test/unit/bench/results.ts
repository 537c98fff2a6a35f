/** A bench run's results with nothing measured: each report test adds the section it renders. */
import { PRICES } from '#bench/prices.ts';
import type { BenchResults } from '#bench/report.ts';

export const benchResults = (overrides: Partial<BenchResults> = {}): BenchResults => ({
  startedAt: '2026-12-06T10:00:00.000Z',
  finishedAt: '2026-12-06T10:10:00.000Z',
  durationSeconds: 600,
  mode: 'quick',
  machine: {
    cpus: 2,
    cpuModel: 'cpu',
    memoryGb: 8,
    node: 'v24',
    platform: 'linux',
    loadAverageStart: 0,
    loadAverageEnd: 0,
  },
  accept: [],
  syncAsync: [],
  terminal: [],
  coldStarts: [],
  cost: [],
  prices: PRICES,
  notes: [],
  ...overrides,
});
