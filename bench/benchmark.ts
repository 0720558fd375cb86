/**
 * benchmark.ts — what one benchmark is, what it reports, and the table `npm run bench` prints.
 *
 * A benchmark measures minibox doing one job next to a *reference* doing the same job (skopeo +
 * umoci for a pull, GNU tar for an unpack, runc for a container start, `node -e 0` for the
 * floor every Node program pays). It reports medians, never pass/fail: speed depends on the
 * machine, so the numbers are for people to read (docs/benchmarks.md), not for CI to assert.
 *
 * Why medians: one run can be slowed by the page cache, a writeback burst or another process;
 * the median of a few runs ignores such outliers where the mean would not.
 * Why ratios: "minibox / reference" stays comparable across machines when absolute times do not.
 *
 * To add a row (say, `minibox stats` RSS or container network latency): write a `Benchmark`
 * whose `run()` returns `BenchRow`s and add it to the list in main.ts.
 */
import { formatTable } from '../src/format.js';
import type { BenchWorkspace } from './workspace.js';

/** The result of running one command a few times. */
export interface Measurement {
  /** What ran, as a reader would recognise it: `minibox pull -q`, `tar -xzf`. */
  label: string;
  /** Wall-clock time of each run, in milliseconds. */
  runsMs: number[];
  /** Peak resident set size of each run, in KiB, when it was measured. */
  peakRssKiB?: number[];
}

/** One line of the table: minibox, optionally next to a reference doing the same work. */
export type BenchRow =
  | { name: string; minibox: Measurement; reference?: Measurement; goal?: string }
  | { name: string; skipped: string };

export interface Benchmark {
  /** Short id for `npm run bench -- --only ID`. */
  id: string;
  /** One line for the progress log. */
  title: string;
  run(workspace: BenchWorkspace): Promise<BenchRow[]>;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

function formatRss(kib: number[] | undefined): string {
  if (!kib || kib.length === 0) return '-';
  return `${(median(kib) / 1024).toFixed(0)} MiB`;
}

function timeCell(measurement: Measurement): string {
  if (measurement.runsMs.length === 0) return '-';
  return `${formatMs(median(measurement.runsMs))} (n=${measurement.runsMs.length})`;
}

/** The summary table: medians, the ratio minibox/reference (below 1× means minibox is faster). */
export function formatResults(rows: BenchRow[]): string {
  const header = ['BENCHMARK', 'MINIBOX', 'REFERENCE', 'REFERENCE TIME', 'RATIO', 'MINIBOX PEAK RSS', 'GOAL'];
  const notes: string[] = [];
  const cells = rows.map((row) => {
    if ('skipped' in row) {
      notes.push(`[${notes.length + 1}] ${row.name}: ${row.skipped}`);
      return [row.name, `skipped [${notes.length}]`, '', '', '', '', ''];
    }
    const { minibox, reference } = row;
    const ratio = reference ? median(minibox.runsMs) / median(reference.runsMs) : Number.NaN;
    return [
      row.name,
      timeCell(minibox),
      reference?.label ?? '-',
      reference ? timeCell(reference) : '-',
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '-',
      formatRss(minibox.peakRssKiB),
      row.goal ?? '',
    ];
  });
  return [formatTable(header, cells), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}
