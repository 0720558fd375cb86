/**
 * serve-command.ts — `minibox serve`: run the Docker Engine API daemon (src/api/server.ts) in the
 * foreground until SIGTERM or Ctrl-C. Parsing only; the server is a library call.
 *
 * Try: `minibox serve --help` → `docker -H unix:///run/minibox.sock run --rm busybox echo hi`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { contextOf, say } from '../context.js';

export function registerServeCommand(program: Command): void {
  program.command('serve')
    .description('Serve the Docker Engine API on a unix socket, so that the docker CLI drives minibox')
    .option('-H, --host <address>', 'where to listen: unix:///PATH or tcp://127.0.0.1:PORT', 'unix:///run/minibox.sock')
    .option('--group <gid>', 'group id that may use the socket (mode 0660), like the docker group')
    .option('--explain', 'narrate every kernel step of each container start on stderr')
    .addHelpText('after', [
      '',
      'Examples:',
      '  minibox serve &                                   # /run/minibox.sock, root only',
      '  docker -H unix:///run/minibox.sock run --rm busybox echo hi',
      '  minibox serve --host unix:///tmp/mb.sock --group "$(getent group docker | cut -d: -f3)"',
      '  minibox serve --explain                           # each `docker run`, narrated here',
    ].join('\n'))
    .action(async (flags: { host: string; group?: string; explain?: boolean }, command: Command) => {
      const { root, insecureRegistries, registryMirrors } = contextOf(command);
      if (flags.group !== undefined && !/^\d+$/.test(flags.group)) throw new UsageError(`invalid --group ${flags.group}: give a numeric group id`);
      const { serve } = await import('../../api/server.js');
      if (flags.host.startsWith('tcp://')) {
        process.stderr.write(`minibox: WARNING: the API on ${flags.host} is unauthenticated: anyone who can connect is root on this machine\n`);
      }
      const daemon = await serve(
        { root, insecureRegistries, registryMirrors, explain: flags.explain === true },
        { host: flags.host, ...(flags.group !== undefined ? { group: Number(flags.group) } : {}) },
      );
      say(`API listening on ${flags.host}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => { process.off('SIGTERM', stop); process.off('SIGINT', stop); resolve(); };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      await daemon.close(); // running containers keep running: each has its minibox-monitor
    });
}
