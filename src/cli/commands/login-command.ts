/**
 * login-command.ts — `minibox login` / `minibox logout`, shaped like Docker's.
 *
 *   minibox login [SERVER] -u USER --password-stdin   (default SERVER: docker.io)
 *   minibox login [SERVER]                            on a terminal: asks `Username:` and a hidden
 *                                                     `Password:` (cli/prompt.ts)
 *   minibox logout [SERVER]
 * Credentials go to Docker's own config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json),
 * so `docker login` and `minibox login` share them. The work is in src/image/registry/login.ts.
 *
 * Try: `DOCKER_CONFIG=$PWD minibox logout localhost:5000` → `Not logged in to localhost:5000`
 */
import type { Command } from 'commander';
import { ExitCode, MiniboxError, UsageError } from '../../errors.js';
import { login, logout, normalizeRegistryHost } from '../../image/registry/index.js';
import { registryContextOf } from '../context.js';
import { canPrompt, prompt } from '../prompt.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // Like Docker: strip the trailing newline that `echo` or a file adds.
  return Buffer.concat(chunks).toString('utf8').replace(/(\r?\n)+$/, '');
}

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('Log in to a registry (default docker.io) and store the credentials in the Docker config file')
    .argument('[server]', 'registry host, e.g. 127.0.0.1:5000', 'docker.io')
    .option('-u, --username <user>', 'username')
    .option('-p, --password <password>', 'password (insecure: visible in the process list; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (server: string, options: { username?: string; password?: string; passwordStdin?: boolean }, command: Command) => {
      if (options.password !== undefined && options.passwordStdin) {
        throw new UsageError('--password and --password-stdin are mutually exclusive');
      }
      const interactive = !options.passwordStdin && canPrompt();
      if (!options.username && !interactive) throw new UsageError('login needs a username: pass -u USER');
      if (!options.passwordStdin && options.password === undefined && !interactive) {
        throw new UsageError('login needs a password: pipe it to --password-stdin (or run it on a terminal, which asks)');
      }
      const username = options.username ?? (await prompt('Username: ')).trim();
      let password: string;
      if (options.passwordStdin) {
        password = await readStdin();
      } else if (options.password !== undefined) {
        process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
        password = options.password;
      } else {
        password = await prompt('Password: ', { secret: true });
      }
      try {
        await login(server, username, password, { insecureRegistries: registryContextOf(command).insecureRegistries });
      } catch (error) {
        // Docker's CLI exits 1 when the registry refuses (or cannot be reached); 125 is for bad flags.
        if (error instanceof MiniboxError && !(error instanceof UsageError)) throw new MiniboxError(error.message, ExitCode.VerbFailed, { cause: error });
        throw error;
      }
      process.stdout.write('Login Succeeded\n');
    });

  program
    .command('logout')
    .description('Remove stored credentials for a registry (default docker.io)')
    .argument('[server]', 'registry host', 'docker.io')
    .action((server: string) => {
      const host = normalizeRegistryHost(server);
      if (logout(server)) process.stdout.write(`Removing login credentials for ${host}\n`);
      else process.stdout.write(`Not logged in to ${host}\n`);
    });
}
