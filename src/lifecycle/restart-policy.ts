/**
 * restart-policy.ts — `--restart no|on-failure[:N]|always|unless-stopped`: which exits bring a
 * container back, and how long to wait first. Pure rules; restart.ts does the restarting.
 *
 * Docker's rules (moby's restartmanager), kept exactly:
 *   no              never restart (the default)
 *   on-failure[:N]  restart after a non-zero exit, at most N times (no N: without limit)
 *   always          restart after every exit, whatever its code
 *   unless-stopped  like always; the two differ only when the engine comes back (below)
 * Back-off: the first restart waits 100 ms, each next one twice as long (200, 400 … at most 1
 * minute); a run that lasted 10 s or more resets it to 100 ms. So a crash loop costs little,
 * and a service that crashes once a day restarts at once.
 * `stop` (and `kill`) end restarting until the next `start`; RestartCount counts restarts since
 * the last manual start.
 *
 * Who restarts, with no daemon? The C monitor (native/minibox-monitor.c) reaps the container,
 * applies the rule above (it is given policy, count and last back-off as flags), sleeps the
 * back-off, then execs the restart stage (restart-stage.ts: Node, same pid), which settles the
 * run and starts the next one under the container's lock — unless a `stop` came first.
 * "Daemon restart" for a daemonless tool is the host's boot: every monitor is gone. Then
 * `minibox system restore` does what dockerd does when it starts: it starts `always` containers,
 * `unless-stopped` ones that were not stopped by hand, and `on-failure` ones whose last exit
 * failed (with retries left) — see docs/lifecycle.md for a systemd unit that runs it at boot.
 *
 * Try: `minibox run -d --name rp --restart on-failure:2 busybox false >/dev/null; until minibox ps
 * -a --format '{{.Status}}' | grep -q '^Exited'; do sleep 0.2; done; minibox inspect -f
 * '{{.RestartCount}} {{.State.ExitCode}}' rp` → `2 1`
 */
import { UsageError } from '../errors.js';

export const RESTART_POLICY_NAMES = ['no', 'always', 'on-failure', 'unless-stopped'] as const;
export type RestartPolicyName = typeof RESTART_POLICY_NAMES[number];

/** HostConfig.RestartPolicy, Docker's shape. */
export interface RestartPolicy {
  Name: RestartPolicyName;
  MaximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };

/** The first back-off, its growth and its cap (moby's restartmanager constants). */
export const BACKOFF = { initialMs: 100, multiplier: 2, maxMs: 60_000, resetAfterMs: 10_000 } as const;

/** `--restart` as typed → a policy, with Docker's messages for bad input (exit 125). */
export function parseRestartPolicy(text: string | undefined): RestartPolicy {
  if (text === undefined || text === '') return NO_RESTART;
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const count = colon < 0 ? '' : text.slice(colon + 1);
  if (colon === 0) throw new UsageError('invalid restart policy format: no policy provided before colon');
  if (count !== '' && !/^-?\d+$/.test(count)) throw new UsageError('invalid restart policy format: maximum retry count must be an integer');
  const known = RESTART_POLICY_NAMES.find((candidate) => candidate === name);
  if (!known) {
    throw new UsageError(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  const maximum = count === '' ? 0 : Number(count);
  if (known !== 'on-failure' && maximum !== 0) {
    throw new UsageError("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  }
  if (maximum < 0) throw new UsageError('invalid restart policy: maximum retry count cannot be negative');
  return { Name: known, MaximumRetryCount: maximum };
}

/** Docker's `--rm` / `--restart` conflict (a container removed at exit cannot be restarted). */
export function checkRestartWith(policy: RestartPolicy, flags: { autoRemove: boolean }): void {
  if (policy.Name !== 'no' && flags.autoRemove) throw new UsageError('Conflicting options: --restart and --rm');
}

/** The back-off before the next restart, from the last one and how long this run lasted. */
export function nextBackoffMs(previousMs: number, ranMs: number): number {
  const last = ranMs >= BACKOFF.resetAfterMs ? 0 : previousMs;
  if (last === 0) return BACKOFF.initialMs;
  return Math.min(last < BACKOFF.maxMs ? last * BACKOFF.multiplier : last, BACKOFF.maxMs);
}

/**
 * Docker's ShouldRestart for an exit the monitor saw (a `stop` cancels before this is asked), and
 * for `system restore` after a boot: `always` restarts even a container stopped by hand there.
 */
export function shouldRestart(policy: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  switch (policy.Name) {
    case 'always': return true;
    case 'unless-stopped': return !manuallyStopped;
    case 'on-failure': return exitCode !== 0 && (policy.MaximumRetryCount === 0 || restartCount < policy.MaximumRetryCount);
    default: return false;
  }
}
