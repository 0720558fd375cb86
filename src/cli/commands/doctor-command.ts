/**
 * doctor-command.ts — `minibox doctor [--format json]`: can this machine run containers, and what
 * is missing for which feature. One line per check (✓ ok, ! warning, ✗ failure) with how to
 * fix it; exit status 0 when `minibox run` can work here, 1 when a required check failed.
 * The checks themselves are in src/doctor/checks.ts.
 *
 * Try: `minibox doctor --format json` → `"name": "overlayfs"`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { checkContainerNetworks, readyToRun, runChecksWithNetworking, type Check } from '../../doctor/checks.js';
import { StateRoot, resolveStateRoot } from '../../state-root.js';
import { say } from '../context.js';

const MARKS: Record<Check['status'], string> = { ok: '✓', warn: '!', fail: '✗' };

export function formatCheck(check: Check, width: number): string {
  const line = `${MARKS[check.status]} ${check.name.padEnd(width)}  ${check.detail}`;
  return check.fix && check.status !== 'ok' ? `${line}\n  ${' '.repeat(width)}  → ${check.fix}` : line;
}

export function registerDoctorCommand(program: Command): void {
  program.command('doctor')
    .description('Check that this machine can run containers, and say how to fix what is missing')
    .option('--format <format>', "'table' (default) or 'json'")
    .action(async (options: { format?: string }, command: Command) => {
      if (options.format !== undefined && options.format !== 'json' && options.format !== 'table') {
        throw new UsageError(`unknown --format ${JSON.stringify(options.format)}: use table or json`);
      }
      const rootDir = resolveStateRoot(command.optsWithGlobals<{ root?: string }>().root);
      const checks = [...await runChecksWithNetworking(rootDir), await checkContainerNetworks(new StateRoot(rootDir))];
      const ready = readyToRun(checks);
      if (options.format === 'json') {
        say(JSON.stringify({ ready, checks }, null, 2));
      } else {
        const width = Math.max(...checks.map((check) => check.name.length));
        for (const check of checks) say(formatCheck(check, width));
        say(ready ? '\nminibox run can work on this machine.' : '\nminibox run cannot work here until the ✗ lines are fixed.');
      }
      process.exitCode = ready ? 0 : 1;
    });
}
