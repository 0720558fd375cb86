/** Entry point used by bin/minibox-runc (runc-cli.ts explains the command line). */
import { runcMain } from './runc-cli.js';

process.exitCode = await runcMain(process.argv);
