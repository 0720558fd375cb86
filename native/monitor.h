/*
 * monitor.h — what the files of minibox-monitor share:
 *   minibox-monitor.c  the process: arguments, fork, the poll(2) loop, reaping, the exit status;
 *   json-file-log.c    the container's output as Docker's json-file log, rotated;
 *   monitor-attach.c   the container's terminal (a pty master) and the attach socket.
 *   monitor-control.c  fd 5: the engine's late options (--early) and its pty request (--tty).
 */
#ifndef MINIBOX_MONITOR_H
#define MINIBOX_MONITOR_H
#include <poll.h>
#include <stddef.h>

#define LINE_MAX_BYTES 16384 /* Docker splits log lines at 16 KiB too */

/* Frame types on the attach socket (monitor-attach.c): the output streams, monitor → client. */
enum { STREAM_STDOUT = 1, STREAM_STDERR = 2 };

/* A stream of the container (stdout, stderr, or the pty master): an fd and the part of a line
 * read so far. */
struct stream {
  const char *name; /* "stdout" or "stderr", as the log names it */
  int id;           /* STREAM_STDOUT or STREAM_STDERR, as attach clients see it */
  int fd;
  char pending[LINE_MAX_BYTES];
  size_t used;
};

/* json-file-log.c */
int log_open(const char *path, long long max_size, int max_files);
void log_lines(struct stream *s, int at_end);
void format_now(char *out, size_t size);

/* monitor-attach.c */
int attach_listen(const char *socket_path);
void attach_remove_socket(void);
int open_pty_master(const char *ptmx_path, int *number);
void attach_set_targets(int input_fd, int terminal_fd);
void attach_broadcast(int stream, const char *data, size_t length);
int attach_poll_fds(struct pollfd *fds, int room);
void attach_serve(const struct pollfd *fds, int count);

#endif
