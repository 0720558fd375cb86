/** Entry point used by bin/minibox. */
import { main } from './main.js';

process.exitCode = await main(process.argv);
