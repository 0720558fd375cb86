/**
 * unpack-one.ts — unpack one layer blob with minibox's unpacker, nothing else.
 *
 *   node dist-tools/bench/unpack-one.js BLOB DEST
 *
 * The unpack benchmark runs this as its own process so that its time and peak memory are
 * minibox's unpacker alone (plus Node's start-up, ~40 ms), measured from outside the same way as
 * `tar -xzf BLOB -C DEST` is. DEST must exist and be empty. Prints the layer's diffId.
 *
 * Try: `/usr/bin/time -v node dist-tools/bench/unpack-one.js layer.tar.gz /tmp/x` and compare
 * "Maximum resident set size" for a small and a large layer: the unpacker streams, so it barely moves.
 */
import path from 'node:path';
import { describeError } from '../src/errors.js';
import { MediaType } from '../src/image/oci.js';
import { unpackLayer } from '../src/image/unpack/index.js';

const [blobPath, dest] = process.argv.slice(2);
if (blobPath === undefined || dest === undefined) {
  process.stderr.write('usage: node dist-tools/bench/unpack-one.js BLOB DEST\n');
  process.exit(125);
}
try {
  const result = await unpackLayer({ blobPath, mediaType: MediaType.OciLayerGzip, dest, layerName: path.basename(blobPath) });
  process.stdout.write(`${result.diffId}\n`);
} catch (error) {
  process.stderr.write(`unpack-one: ${describeError(error)}\n`);
  process.exit(125);
}
