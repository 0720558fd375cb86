/**
 * finding.ts — what `system fsck` reports: one thing that is not as minibox's rules say it must
 * be (docs/state.md), and what `--repair` would do about it.
 *
 * Each check of fsck is a function from the state on disk (and the kernel's tables) to a list of
 * findings; a finding carries the repair as a function, so the check that understood the problem
 * is the one that knows how to undo it. The checks never change anything; `--repair` runs the
 * repairs in the order found (store first, then containers, then the host), then checks again.
 *
 * Try: `mkdir $MINIBOX_ROOT/volumes/half && minibox system fsck; minibox system fsck --repair
 * >/dev/null` → `a volume directory without a record … → --repair would delete it`
 */

export type FindingArea = 'blob' | 'layer' | 'image' | 'temp' | 'container' | 'mount' | 'process' | 'cgroup' | 'network';

export interface Finding {
  area: FindingArea;
  /** What the finding is about: a digest, a path, a container id, an interface name. */
  subject: string;
  /** What is wrong, in one line. */
  problem: string;
  /** What `--repair` does, in one line. */
  repair: string;
  /** Does it. */
  fix: () => Promise<void>;
}

/** A finding as printed by `--format json`: everything but the repair function. */
export interface FindingReport {
  area: FindingArea;
  subject: string;
  problem: string;
  repair: string;
  /** Set after `--repair`: whether the repair ran without error, and the error if not. */
  repaired?: boolean;
  error?: string;
}

export function reportOf(finding: Finding): FindingReport {
  return { area: finding.area, subject: finding.subject, problem: finding.problem, repair: finding.repair };
}
