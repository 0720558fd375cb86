/**
 * update-command.ts — `minibox update [OPTIONS] CONTAINER...`, shaped like `docker update`: new
 * resource limits for containers. A running container's cgroup changes at once; the new values
 * are kept for its next start too. The work is in src/engine/resources.ts.
 *
 * Try (cgroup v2): `minibox run -d --name web busybox sleep 60 >/dev/null && minibox update
 * --pids-limit 50 web` → `web`
 */
import type { Command } from 'commander';
import type { ResourceFlags } from '../../cgroups/index.js';
import { updateContainers } from '../../lifecycle/resources.js';
import { contextOf, say } from '../context.js';
import { withExplainFlags } from '../explain-flags.js';

export function registerUpdateCommand(program: Command): void {
  withExplainFlags(program
    .command('update')
    .description('Update resource limits of one or more containers (cgroup v2)')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .argument('<containers...>', 'container names or ids')
    .option('-m, --memory <bytes>', 'memory limit, e.g. 256m or 1g (memory.max)')
    .option('--memory-swap <bytes>', 'memory + swap limit; -1 = unlimited swap')
    .option('--memory-reservation <bytes>', 'memory protected from reclaim (memory.low)')
    .option('--cpus <number>', 'number of CPUs, e.g. 0.5 (cpu.max)')
    .option('-c, --cpu-shares <weight>', 'relative CPU weight (cpu.weight)')
    .option('--cpuset-cpus <list>', 'CPUs the container may use, e.g. 0-1 (cpuset.cpus)')
    .option('--pids-limit <n>', 'maximum number of processes and threads; -1 = unlimited (pids.max)')
    .action(async (containers: string[], flags: ResourceFlags, cmd: Command) => {
      for (const name of await updateContainers(contextOf(cmd).root, containers, flags)) say(name);
    }), 'the limits written');
}
