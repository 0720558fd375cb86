/**
 * lab-images.ts — the offline lab: small images built, with `minibox build`, from the host's
 * busybox, so that every lesson works without the internet.
 *
 *   lab/base:1   busybox, /etc/passwd and /etc/group (three layers: two COPYs and a RUN)
 *   lab/web:1    lab/base:1 + one layer: /var/www/index.html "web v1" and an httpd CMD
 *   lab/web:2    lab/base:1 + one layer: "web v2" — shares every base layer with lab/web:1
 *   lab/foreign:1  programs for other machines: /hello-arm64 (an ELF header for AArch64) and
 *                /hello.exe (a Windows "MZ" header) — the host kernel refuses both (ENOEXEC)
 *
 * The build contexts are written to a temp dir (busybox copied in: a Dockerfile's COPY cannot
 * reach outside its context), built into the given state root, and removed.
 *
 * Try: `minibox lesson setup && minibox history lab/web:2` → `lab/base` (the base's layers under
 * web's own).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiniboxError } from '../errors.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'
  + 'app:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n';

const BASE_DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY passwd group /etc/
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /root /var/www && chmod 1777 /tmp"]
CMD ["sh"]
`;

function webDockerfile(version: number): string {
  return `FROM lab/base:1
RUN echo "web v${version}" > /var/www/index.html
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
`;
}

export const LAB_IMAGES = ['lab/base:1', 'lab/web:1', 'lab/web:2', 'lab/foreign:1'];

/** The 64-byte header of a 64-bit little-endian ELF executable for AArch64 (e_machine 183). */
function arm64ElfHeader(): Buffer {
  const header = Buffer.alloc(64);
  header.write('\x7fELF', 0, 'latin1');
  header.set([2, 1, 1], 4); // ELFCLASS64, little-endian, version 1
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(183, 18); // EM_AARCH64
  header.writeUInt32LE(1, 20);
  header.writeBigUInt64LE(0x400000n, 24); // entry
  header.writeBigUInt64LE(64n, 32); // program headers right after this one (none)
  header.writeUInt16LE(64, 52);
  header.writeUInt16LE(56, 54);
  header.writeUInt16LE(64, 58);
  return header;
}

function writeForeignContext(dir: string): void {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'hello-arm64'), arm64ElfHeader(), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'hello.exe'), Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62)]), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY hello-arm64 hello.exe /\nCMD ["/hello-arm64"]\n');
}

/** This checkout's `bin/minibox` (from dist/lessons/ or src/lessons/), run by this Node. */
export function miniboxCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../bin/minibox', import.meta.url))];
}

function build(root: string, tag: string, context: string, quiet: boolean): void {
  const [node, bin] = miniboxCommand();
  const result = spawnSync(node!, [bin!, '--root', root, 'build', '-q', '--network', 'none', '-t', tag, context],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new MiniboxError(`building the lab image ${tag} failed: ${(result.stderr || result.stdout).trim()}`);
  }
  if (!quiet) process.stdout.write(`lab image ${tag} ${result.stdout.trim()}\n`);
}

/** Builds the lab images into `root` (a no-op for those already there, thanks to the build cache). */
export function buildLabImages(root: string, options: { quiet?: boolean; busybox?: string } = {}): void {
  const busybox = options.busybox ?? process.env.BUSYBOX ?? '/bin/busybox';
  if (!fs.existsSync(busybox)) throw new MiniboxError(`${busybox} not found: apt-get install busybox-static`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'minibox-lab-'));
  try {
    const base = path.join(work, 'base');
    fs.mkdirSync(base);
    fs.copyFileSync(busybox, path.join(base, 'busybox'));
    fs.chmodSync(path.join(base, 'busybox'), 0o755);
    fs.writeFileSync(path.join(base, 'passwd'), PASSWD);
    fs.writeFileSync(path.join(base, 'group'), GROUP);
    fs.writeFileSync(path.join(base, 'Dockerfile'), BASE_DOCKERFILE);
    build(root, 'lab/base:1', base, options.quiet ?? false);
    for (const version of [1, 2]) {
      const web = path.join(work, `web${version}`);
      fs.mkdirSync(web);
      fs.writeFileSync(path.join(web, 'Dockerfile'), webDockerfile(version));
      build(root, `lab/web:${version}`, web, options.quiet ?? false);
    }
    writeForeignContext(path.join(work, 'foreign'));
    build(root, 'lab/foreign:1', path.join(work, 'foreign'), options.quiet ?? false);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
