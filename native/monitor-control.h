/* monitor-control.h — minibox-monitor's control channel on fd 5 (monitor-control.c): the late
 * options of `--early`, and the pty request of `--tty`. */
#ifndef MONITOR_CONTROL_H
#define MONITOR_CONTROL_H
#include "monitor.h"

#define CONTROL_FD 5

/* Blocks until the engine's message on fd: sets *options to its options (NULL-terminated) and
 * returns how many there are; -1 at end of file (the engine gave up) or for a malformed message. */
int read_late_options(int fd, char ***options);
/* --tty: serves the engine's request when fd 5 is readable; at end of file closes it (-1) and
 * lets go of the engine. */
void serve_control(int *control_fd, struct stream *terminal);
/* From now on nobody reads the monitor's stdio: it becomes /dev/null. */
void let_go_of_engine(void);

#endif
