/**
 * Entry point used by bin/minibox-runc (runc-cli.ts explains the command line).
 *
 * Try: `minibox-runc --version` → `minibox-runc version`
 */
import { runcMain } from './runc-cli.js';

process.exitCode = await runcMain(process.argv);
