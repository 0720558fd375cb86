/*
 * json-file-log.c — minibox-monitor's copy of the container's output, in Docker's json-file format.
 *
 * One JSON object per line, appended to LOG (`<container dir>/container.log`):
 *   {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 * A line longer than 16 KiB is split, as Docker does; a last line without "\n" is kept as is.
 * With a terminal (`run -t`) everything the program writes arrives through one pty master and
 * is logged as "stdout" with the terminal's "\r\n" line ends — Docker's log looks the same.
 * With `--log-opt max-size=… max-file=N` the log is rotated as Docker's json-file driver does:
 * when the next entry would take LOG past max-size, LOG.(N-2) becomes LOG.(N-1), …, LOG becomes
 * LOG.1, and a new LOG starts (with N = 1, LOG is truncated instead). So the files never hold
 * more than N × max-size (plus, at most, one entry larger than that): a container printing
 * forever cannot fill the disk.
 *
 * Try: `minibox run -d busybox echo hi`, then `cat <root>/containers/<id>/container.log`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "monitor.h"

static const char *log_path;
static int log_fd = -1;
static long long log_max_size = -1; /* rotate before LOG would grow past it; -1: never */
static int log_max_files = 1;       /* LOG and LOG.1 … LOG.(N-1) */
static long long log_size;          /* bytes in LOG now */

/* Opens LOG for appending (a restarted container appends); -1 with errno on failure. */
int log_open(const char *path, long long max_size, int max_files) {
  log_path = path;
  log_max_size = max_size;
  log_max_files = max_files;
  log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log_fd < 0) return -1;
  struct stat log_stat;
  if (fstat(log_fd, &log_stat) == 0) log_size = log_stat.st_size;
  return 0;
}

/* RFC 3339 with nanoseconds in UTC, trailing zeros trimmed, like Go's time.RFC3339Nano. */
void format_now(char *out, size_t size) {
  struct timespec now;
  struct tm utc;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &utc);
  size_t used = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  snprintf(fraction, sizeof fraction, ".%09ld", now.tv_nsec);
  size_t end = strlen(fraction);
  while (end > 1 && fraction[end - 1] == '0') end--;
  if (end == 1) end = 0; /* no fraction at all */
  fraction[end] = '\0';
  snprintf(out + used, size - used, "%sZ", fraction);
}

/* Docker's json-file rotation (see the header). If a rename fails, the entry goes to the current
 * file and the next one tries again: output is never dropped for the sake of rotation. */
static void rotate_log(void) {
  if (log_max_files < 2) {
    if (ftruncate(log_fd, 0) == 0) log_size = 0; /* O_APPEND: the next write starts at 0 */
    return;
  }
  char from[4096], to[4096];
  for (int n = log_max_files - 1; n >= 1; n--) {
    if (n == 1) snprintf(from, sizeof from, "%s", log_path);
    else snprintf(from, sizeof from, "%s.%d", log_path, n - 1);
    snprintf(to, sizeof to, "%s.%d", log_path, n);
    if (rename(from, to) < 0 && errno != ENOENT) return;
  }
  int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return;
  close(log_fd); /* now LOG.1's */
  log_fd = fd;
  log_size = 0;
}

/* One json-file entry. JSON escaping as Go's encoder: quotes, backslash, control characters,
 * and <, >, & as \u003c… (Docker's jsonlog is HTML-safe). One write(2) on an O_APPEND fd, so a
 * concurrent reader never sees half a line from us. */
static char entry[LINE_MAX_BYTES * 6 + 256];

static void write_entry(const char *stream, const char *data, size_t length) {
  static const char hex[] = "0123456789abcdef";
  size_t used = 0;
  used += (size_t)snprintf(entry, sizeof entry, "{\"log\":\"");
  for (size_t i = 0; i < length; i++) {
    unsigned char c = (unsigned char)data[i];
    switch (c) {
      case '"': entry[used++] = '\\'; entry[used++] = '"'; break;
      case '\\': entry[used++] = '\\'; entry[used++] = '\\'; break;
      case '\n': entry[used++] = '\\'; entry[used++] = 'n'; break;
      case '\r': entry[used++] = '\\'; entry[used++] = 'r'; break;
      case '\t': entry[used++] = '\\'; entry[used++] = 't'; break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          memcpy(entry + used, "\\u00", 4);
          entry[used + 4] = hex[c >> 4];
          entry[used + 5] = hex[c & 15];
          used += 6;
        } else {
          entry[used++] = (char)c;
        }
    }
  }
  char now[64];
  format_now(now, sizeof now);
  used += (size_t)snprintf(entry + used, sizeof entry - used, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, now);
  if (log_max_size > 0 && log_size > 0 && log_size + (long long)used > log_max_size) rotate_log();
  size_t done = 0;
  while (done < used) {
    ssize_t written = write(log_fd, entry + done, used - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break; /* disk full: drop the line rather than block the container */
    done += (size_t)written;
  }
  log_size += (long long)done;
}

/* Logs every complete line read so far (and, at the end, the rest). */
void log_lines(struct stream *s, int at_end) {
  size_t start = 0;
  for (size_t i = 0; i < s->used; i++) {
    if (s->pending[i] == '\n') {
      write_entry(s->name, s->pending + start, i + 1 - start);
      start = i + 1;
    }
  }
  if (start == 0 && s->used == sizeof s->pending) { /* a full buffer without a newline */
    write_entry(s->name, s->pending, s->used);
    start = s->used;
  }
  if (at_end && start < s->used) {
    write_entry(s->name, s->pending + start, s->used - start);
    start = s->used;
  }
  memmove(s->pending, s->pending + start, s->used - start);
  s->used -= start;
}
