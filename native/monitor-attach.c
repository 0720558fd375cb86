/*
 * monitor-attach.c — `minibox attach`: the container's terminal and output, served by its monitor
 * over a unix socket, as conmon's attach socket serves podman.
 *
 * A container started with -t (`run -dit`) writes to a pseudo-terminal: a pair of character
 * devices, the slave (/dev/pts/N inside the container: the program's stdin, stdout and stderr,
 * its controlling terminal) and the master, whose holder reads what the program prints and
 * writes what the user types. Whoever holds the master must live as long as the container, so
 * the monitor holds it: it opens the container's own /dev/pts/ptmx (a devpts instance the
 * container mounted, reached through /proc/<init pid>/root/…) when the engine asks, and tells the
 * engine the number N, which the init stage opens as the slave. It never passes the master, the
 * socket, or any client's connection to the container: every fd here is close-on-exec, and the
 * only child was forked before any of them existed.
 *
 * The attach socket, `<container dir>/attach.sock` (mode 0600, root only), speaks in frames of a
 * one-byte type, a two-byte big-endian length and at most 4096 bytes of payload:
 *   monitor → client: 1 stdout, 2 stderr — what the container printed (with -t, all of it is 1);
 *   client → monitor: 0 stdin bytes (to the master, or with `-i` and no -t to the stdin pipe;
 *                     while the program does not read them, the monitor stops reading clients),
 *                     1 window size (rows, columns: two bytes each) → ioctl(TIOCSWINSZ) on the
 *                     master; the kernel then sends SIGWINCH to the terminal's foreground group,
 *                     2 end of stdin (`start -ai` without -t: the program reads end of file).
 * Up to 8 clients at once, each seeing the same output (screen sharing, as `docker attach`).
 * The detach keys (Ctrl-P Ctrl-Q) never reach the monitor: the client recognises them and hangs
 * up; the container runs on. A client that cannot keep up (its socket buffer is full) is
 * disconnected rather than allowed to stall the container: the log still has everything. When
 * the container exits, the monitor writes the exit status and exits: every client reads end of
 * file, and `attach` reports the exit code.
 * bind(2) takes at most 107 bytes of path and a state root may be deeper, so the socket is bound
 * as /proc/self/fd/D/attach.sock, D an O_PATH fd of the container's directory (conmon does so too).
 *
 * Try: `minibox run -dit --name box busybox sh`, `minibox attach box`, type `tty` → /dev/pts/0,
 * then Ctrl-P Ctrl-Q → `read escape sequence`, and `ls -l <root>/containers/<id>/attach.sock`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "monitor.h"

#define MAX_CLIENTS 8
#define FRAME_HEADER 3
#define FRAME_MAX 4096
enum { INPUT_DATA = 0, INPUT_RESIZE = 1, INPUT_CLOSE = 2 };

struct client {
  int fd;
  size_t used;
  unsigned char buffer[FRAME_HEADER + FRAME_MAX];
};

static struct client clients[MAX_CLIENTS] = {{.fd = -1}, {.fd = -1}, {.fd = -1}, {.fd = -1},
                                             {.fd = -1}, {.fd = -1}, {.fd = -1}, {.fd = -1}};
static int listen_fd = -1;
static char socket_path[4096];
static int input_fd = -1;    /* where stdin frames go: the pty master, the stdin pipe, or nowhere */
static int terminal_fd = -1; /* the pty master, for window sizes */
/* Input the program has not taken yet (its pipe or pty buffer is full): until it is written, no
 * client is read, so input is neither lost nor reordered, and the monitor never blocks. */
static unsigned char input_pending[FRAME_MAX];
static size_t input_pending_length;

/* The short address of `path` (see the header); *dir_fd must be closed after bind/connect. */
static int short_address(const char *path, struct sockaddr_un *address, int *dir_fd) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir) { errno = EINVAL; return -1; }
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  *dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dir_fd < 0) return -1;
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  int length = snprintf(address->sun_path, sizeof address->sun_path, "/proc/self/fd/%d/%s", *dir_fd, slash + 1);
  if (length < 0 || (size_t)length >= sizeof address->sun_path) {
    close(*dir_fd);
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Creates the listening socket (removing a stale one a killed monitor left); -1 with errno. */
int attach_listen(const char *path) {
  struct sockaddr_un address;
  int dir_fd;
  if (snprintf(socket_path, sizeof socket_path, "%s", path) >= (int)sizeof socket_path) { errno = ENAMETOOLONG; return -1; }
  if (short_address(path, &address, &dir_fd) < 0) return -1;
  unlink(address.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  mode_t old_mask = umask(0177); /* the socket file is born 0600: only root may attach */
  int failed = fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, MAX_CLIENTS) < 0;
  int saved = errno;
  umask(old_mask);
  close(dir_fd);
  if (failed) {
    if (fd >= 0) close(fd);
    errno = saved;
    return -1;
  }
  listen_fd = fd;
  return fd;
}

void attach_remove_socket(void) {
  if (listen_fd >= 0) unlink(socket_path);
}

/* Opens a new pty in the devpts instance of `ptmx_path`, unlocked; its number in *number. */
int open_pty_master(const char *ptmx_path, int *number) {
  int fd = open(ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  int unlock = 0;
  if (ioctl(fd, TIOCSPTLCK, &unlock) < 0 || ioctl(fd, TIOCGPTN, number) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/* Where stdin frames and window sizes go; (-1, -1) once the master is closed, before its fd
 * number can be reused (by a client's socket, say). Pending input for the old target is dropped. */
void attach_set_targets(int input, int terminal) {
  input_fd = input;
  terminal_fd = terminal;
  input_pending_length = 0;
}

static void drop(struct client *c) {
  close(c->fd);
  c->fd = -1;
  c->used = 0;
}

/* Sends `data` to every client, in frames of `stream`. */
void attach_broadcast(int stream, const char *data, size_t length) {
  unsigned char frame[FRAME_HEADER + FRAME_MAX];
  for (size_t done = 0; done < length;) {
    size_t chunk = length - done < FRAME_MAX ? length - done : FRAME_MAX;
    frame[0] = (unsigned char)stream;
    frame[1] = (unsigned char)(chunk >> 8);
    frame[2] = (unsigned char)(chunk & 0xff);
    memcpy(frame + FRAME_HEADER, data + done, chunk);
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (clients[i].fd < 0) continue;
      ssize_t sent = send(clients[i].fd, frame, FRAME_HEADER + chunk, MSG_NOSIGNAL);
      if (sent != (ssize_t)(FRAME_HEADER + chunk)) drop(&clients[i]); /* gone, or cannot keep up */
    }
    done += chunk;
  }
}

int attach_poll_fds(struct pollfd *fds, int room) {
  int count = 0;
  if (listen_fd >= 0 && count < room) fds[count++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
  if (input_pending_length > 0) {
    fds[count++] = (struct pollfd){.fd = input_fd, .events = POLLOUT};
    return count;
  }
  for (int i = 0; i < MAX_CLIENTS && count < room; i++) {
    if (clients[i].fd >= 0) fds[count++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
  }
  return count;
}

/* Writes input_pending to the program (non-blocking); what it cannot take yet stays pending. */
static void write_input(void) {
  ssize_t written = write(input_fd, input_pending, input_pending_length);
  if (written < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (written < 0) written = (ssize_t)input_pending_length; /* the program is gone: drop it */
  memmove(input_pending, input_pending + written, input_pending_length - (size_t)written);
  input_pending_length -= (size_t)written;
}

static void handle_frame(int type, const unsigned char *payload, size_t length) {
  if (type == INPUT_DATA && input_fd >= 0) {
    memcpy(input_pending, payload, length);
    input_pending_length = length;
    write_input();
  } else if (type == INPUT_RESIZE && terminal_fd >= 0 && length == 4) {
    struct winsize size = {.ws_row = (unsigned short)(payload[0] << 8 | payload[1]),
                           .ws_col = (unsigned short)(payload[2] << 8 | payload[3])};
    ioctl(terminal_fd, TIOCSWINSZ, &size);
  } else if (type == INPUT_CLOSE && input_fd >= 0 && input_fd != terminal_fd) {
    close(input_fd); /* the stdin pipe: the program reads end of file */
    input_fd = -1;
  }
}

/* Handles the complete frames a client sent, until input is pending. */
static void handle_frames(struct client *c) {
  size_t start = 0;
  while (input_pending_length == 0 && c->used - start >= FRAME_HEADER) {
    const unsigned char *frame = c->buffer + start;
    size_t length = (size_t)(frame[1] << 8 | frame[2]);
    if (length > FRAME_MAX) { drop(c); return; } /* not our protocol */
    if (c->used - start < FRAME_HEADER + length) break;
    handle_frame(frame[0], frame + FRAME_HEADER, length);
    start += FRAME_HEADER + length;
  }
  memmove(c->buffer, c->buffer + start, c->used - start);
  c->used -= start;
}

static void read_client(struct client *c) {
  ssize_t count = read(c->fd, c->buffer + c->used, sizeof c->buffer - c->used);
  if (count < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (count <= 0) { drop(c); return; } /* hung up: detached */
  c->used += (size_t)count;
  handle_frames(c);
}

static void accept_client(void) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  for (int i = 0; i < MAX_CLIENTS; i++) {
    if (clients[i].fd < 0) {
      clients[i].fd = fd;
      clients[i].used = 0;
      return;
    }
  }
  close(fd); /* full: the client reads end of file at once */
}

/* Handles what poll(2) reported for the fds attach_poll_fds gave it. */
void attach_serve(const struct pollfd *fds, int count) {
  for (int n = 0; n < count; n++) {
    if (!(fds[n].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR))) continue;
    if (input_pending_length > 0 && fds[n].fd == input_fd && fds[n].events == POLLOUT) {
      write_input();
      for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd >= 0) handle_frames(&clients[i]); /* frames read before the wait */
      }
      continue;
    }
    if (fds[n].fd == listen_fd) {
      accept_client();
      continue;
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (clients[i].fd == fds[n].fd) read_client(&clients[i]);
    }
  }
}
