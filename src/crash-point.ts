/**
 * crash-point.ts — named places where a test can make minibox die as if `kill -9` hit it there.
 *
 * "A crash at any moment leaves nothing half-written" is a claim about every moment, and killing
 * a process after a wall-clock delay only ever samples the moments a busy machine happens to
 * reach. So the code names its risky moments — between writing a temp file and renaming it,
 * after the overlay is mounted but before the record says so — with `crashPoint('name')`, and a
 * test sets `MINIBOX_TEST_CRASH_AT=name` (or `name@N`, the N-th time the point is reached) to get
 * a SIGKILL exactly there. SIGKILL cannot be caught: no `finally`, no exit handler runs, exactly
 * like an OOM kill or a power cut. Without the variable a crash point costs one comparison.
 *
 * Only the minibox command that was started with the variable dies: it is removed from the
 * environment when this module loads, so the container, monitor and stage processes that
 * minibox starts never inherit it.
 *
 * Try: `minibox rmi busybox $IMAGE >/dev/null; MINIBOX_TEST_CRASH_AT=blob:downloaded minibox pull
 * -q $IMAGE; echo $?; minibox system fsck; minibox system fsck --repair >/dev/null` → `137 … a
 * download that a process which died left behind`
 */

const VARIABLE = 'MINIBOX_TEST_CRASH_AT';

const wanted = parse(process.env[VARIABLE]);
delete process.env[VARIABLE];
const reached = new Map<string, number>();

function parse(value: string | undefined): { point: string; hit: number } | undefined {
  if (!value) return undefined;
  const match = /^([a-z0-9:-]+?)(?:@(\d+))?$/.exec(value);
  if (!match) return undefined;
  return { point: match[1]!, hit: Number(match[2] ?? 1) };
}

/** Dies by SIGKILL here if a test asked for it (`MINIBOX_TEST_CRASH_AT=point` or `point@N`). */
export function crashPoint(point: string): void {
  if (wanted?.point !== point) return;
  const count = (reached.get(point) ?? 0) + 1;
  reached.set(point, count);
  if (count === wanted.hit) process.kill(process.pid, 'SIGKILL');
}
