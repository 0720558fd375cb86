/**
 * filter-cache.ts — compiled seccomp programs kept between containers, in the state root's
 * `seccomp/` directory (root's alone, 0700), found by what the spec says.
 *
 * libseccomp needs ~25 ms of CPU to turn Docker's profile into BPF, and the same rules always give
 * the same program, so syscall-filter.ts keeps each program next to the text it was compiled
 * from: `seccomp/<key>.filter` holds that text (the spec's `linux.seccomp`, the architecture and
 * libseccomp's version, as JSON), then the program. A lookup reads the file whose name is the
 * text's key and compares the stored text with this spec's, byte for byte: the program is used
 * only for exactly the rules it was made from. The key is therefore only a way to find the file —
 * as in a hash table, where a bucket is found by a hash and the key then compared — so it need not
 * be a cryptographic hash: FNV-1a, one multiplication per four bytes. Two texts with the same
 * key simply take turns in one file. (A sha256 key cost the loading of `node:crypto`, ~6 ms, in
 * every `exec` and every init stage: issue #17.)
 *
 * The directory is trusted only if root owns it and nobody else may write to it; a file is opened
 * with O_NOFOLLOW. Writes go to a temporary name and are renamed into place, so a reader sees a
 * whole file or none.
 *
 * Try: `minibox run --rm busybox true; ls $MINIBOX_ROOT/seccomp` → `….filter` (KEY.filter, e.g. `8d74defb.filter`)
 */
import fs from 'node:fs';
import path from 'node:path';
import { publishStep } from '../../sys/trace.js';

/** The file's header: the length of the text that follows (then the program), 32-bit little-endian. */
const HEADER_BYTES = 4;

/**
 * The cache file's name: FNV-1a's xor-and-multiply (32 bits), over the text's UTF-8 bytes taken
 * four at a time. Four at a time, not byte by byte as FNV is usually written: the loop runs once
 * per process over ~8 KB, and a quarter of the steps keeps it short enough that V8 interprets it
 * rather than stopping to optimise it (byte by byte measured 2–6 ms, this ~0.5 ms).
 */
export function filterCacheKey(text: string): string {
  const words = new Uint32Array(Math.ceil(Buffer.byteLength(text) / 4)); // zero-padded at the end
  Buffer.from(words.buffer).write(text);
  let hash = 0x811c9dc5; // FNV offset basis
  for (const word of words) hash = Math.imul(hash ^ word, 0x01000193); // FNV prime
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** The cache directory, made 0700 if missing; used only if it is a directory of root's alone. */
export function trustedCacheDir(cacheDir: string): boolean {
  try {
    fs.mkdirSync(cacheDir, { mode: 0o700 });
  } catch { /* it exists (or cannot be made: checked below) */ }
  try {
    const dir = fs.lstatSync(cacheDir);
    return dir.isDirectory() && dir.uid === 0 && (dir.mode & 0o077) === 0; // never a dir others can write
  } catch {
    return false;
  }
}

/** The program compiled from exactly `text`, if the cache has it (a whole BPF program). */
export function readCachedProgram(cacheDir: string, text: string): Buffer | undefined {
  const key = filterCacheKey(text);
  let file: Buffer;
  try {
    const fd = fs.openSync(path.join(cacheDir, `${key}.filter`), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      file = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (file.length < HEADER_BYTES) return undefined;
  const textEnd = HEADER_BYTES + file.readUInt32LE(0);
  if (textEnd > file.length || !file.subarray(HEADER_BYTES, textEnd).equals(Buffer.from(text))) return undefined;
  const program = file.subarray(textEnd);
  if (program.length === 0 || program.length % 8 !== 0) return undefined;
  publishStep('seccomp.cache', { key, instructions: program.length / 8 });
  return program;
}

/** Keeps a compiled program for the next container, with the text it was made from. */
export function writeCachedProgram(cacheDir: string, text: string, program: Buffer): void {
  const key = filterCacheKey(text);
  const body = Buffer.from(text);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(body.length, 0);
  try {
    const temporary = path.join(cacheDir, `.${key}.${process.pid}`);
    fs.writeFileSync(temporary, Buffer.concat([header, body, program]), { mode: 0o600 });
    fs.renameSync(temporary, path.join(cacheDir, `${key}.filter`));
    // The format before this one (`<sha256>.bpf`, the program alone) is never read again.
    for (const name of fs.readdirSync(cacheDir)) if (name.endsWith('.bpf')) fs.rmSync(path.join(cacheDir, name), { force: true });
  } catch {
    // a cache is an optimisation: a read-only or full disk costs the next container 25 ms, no more
  }
}
