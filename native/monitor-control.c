/*
 * monitor-control.c — minibox-monitor's control channel, fd 5: what the engine tells the monitor
 * after it started. Two things travel on it, each at most once:
 *
 * 1. The late options (`--early`, `minibox run -d`). The container's init stage is a Node
 *    process: ~50–70 ms of start-up before it can do anything. A detached `run` knows from its
 *    flags alone that a container will run under a monitor, long before the image is found and
 *    the bundle written; so it starts `minibox-monitor --early` at once, and the monitor forks the
 *    init stage, which boots and then waits for its bundle on fd 3 (src/runtime/stages/channel.ts)
 *    while the engine is still busy. The rest of the monitor's options cannot be known yet — the
 *    log, status and pids files and the attach socket live in the container's directory, which
 *    does not exist; the healthcheck and the event's attributes come from the image. They follow
 *    as one message:
 *
 *        LENGTH "\n", then LENGTH bytes: the options, each ended by a NUL byte
 *
 *    — the same options as on the command line, parsed by the same function. End of file before
 *    it means the engine gave up (no such image, a name already taken, Ctrl-C, or it died): the
 *    monitor kills its child — still waiting, it has touched nothing — reaps it and exits
 *    without writing a file. The engine sends the bundle only once the monitor has reported the
 *    child's pid, that is once the monitor has its files and its socket.
 * 2. With --tty, the request "pty PATH" (the container's /dev/pts/ptmx, seen through
 *    /proc/<init pid>/root), answered on fd 1 with "pty N" or "error MESSAGE": the monitor holds
 *    the container's terminal, which must outlive the engine (monitor-attach.c).
 * End of file: the program runs (or never will), and the monitor lets go of the engine's stdio.
 *
 * Try: `strace -f -e trace=execve minibox run -d busybox true 2>&1 | grep -c -- --early` → `1`
 */
#define _GNU_SOURCE
#include "monitor-control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MESSAGE_BYTES (1 << 20)
#define MAX_OPTIONS 4096

/* Reads exactly `length` bytes, waiting (poll) when the socket is non-blocking; 0 at end of file. */
static int read_fully(int fd, char *buffer, size_t length) {
  size_t done = 0;
  while (done < length) {
    ssize_t count = read(fd, buffer + done, length - done);
    if (count > 0) {
      done += (size_t)count;
      continue;
    }
    if (count < 0 && errno == EINTR) continue;
    if (count < 0 && errno == EAGAIN) {
      struct pollfd wait_for = {.fd = fd, .events = POLLIN};
      poll(&wait_for, 1, -1);
      continue;
    }
    return 0;
  }
  return 1;
}

int read_late_options(int fd, char ***options) {
  char header[16];
  size_t used = 0;
  /* "LENGTH\n", a byte at a time: nothing after the newline may be consumed here. */
  while (used < sizeof header - 1) {
    if (!read_fully(fd, header + used, 1)) return -1;
    if (header[used++] == '\n') break;
  }
  header[used] = '\0';
  char *end;
  long length = strtol(header, &end, 10);
  if (end == header || *end != '\n' || length <= 0 || length > MAX_MESSAGE_BYTES) return -1;
  char *text = malloc((size_t)length); /* kept: the parsed options point into it */
  char **list = calloc(MAX_OPTIONS + 1, sizeof *list);
  if (!text || !list || !read_fully(fd, text, (size_t)length) || text[length - 1] != '\0') return -1;
  int count = 0;
  for (char *option = text; option < text + length && count < MAX_OPTIONS; option += strlen(option) + 1) {
    list[count++] = option;
  }
  *options = list;
  return count;
}

/* From now on nobody reads our stdio: it becomes /dev/null. */
void let_go_of_engine(void) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return;
  dup2(null_fd, 0);
  dup2(null_fd, 1);
  dup2(null_fd, 2);
  close(null_fd);
}

/* --tty: the engine's one request, "pty PATH\n" (PATH: the container's /dev/pts/ptmx, seen
 * through /proc/<init pid>/root), answered on fd 1 with "pty N\n" or "error MESSAGE\n". End of
 * file: the program runs (or never will), and the monitor lets go of the engine. */
void serve_control(int *control_fd, struct stream *terminal) {
  static char request[4200];
  static size_t used;
  ssize_t count = read(*control_fd, request + used, sizeof request - 1 - used);
  if (count < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (count <= 0) {
    close(*control_fd);
    *control_fd = -1;
    let_go_of_engine();
    return;
  }
  used += (size_t)count;
  request[used] = '\0';
  char *newline = strchr(request, '\n');
  if (!newline) {
    if (used == sizeof request - 1) used = 0; /* not a request of ours */
    return;
  }
  *newline = '\0';
  int number;
  if (strncmp(request, "pty ", 4) == 0 && terminal->fd < 0) {
    terminal->fd = open_pty_master(request + 4, &number);
    if (terminal->fd < 0) dprintf(1, "error open %s: %s\n", request + 4, strerror(errno));
    else dprintf(1, "pty %d\n", number);
    attach_set_targets(terminal->fd, terminal->fd);
  }
  used = 0;
}

