/* launch-userns.h — minibox-launch's user-namespace step (launch-userns.c). */
#ifndef MINIBOX_LAUNCH_USERNS_H
#define MINIBOX_LAUNCH_USERNS_H

struct userns_request {
  int join_fd;          /* --userns-fd FD: join this one (exec into a running container) */
  int sync_fd;          /* --userns-sync FD: make one (or join --userns-path) with the engine */
  const char *path;     /* --userns-path PATH: an existing user namespace (config.json `path`) */
  int new_pid;          /* --new-pid: then unshare(CLONE_NEWPID) and fork the container's PID 1 */
  int wait;             /* --wait: the parent stays, forwards signals, exits with the child's status */
};

/* Parses the options before NODE; returns how many argv entries they took, or -1. */
int parse_userns_options(int argc, char **argv, struct userns_request *request);

/* Enters the user namespace (and the PID namespace it owns) as its root; returns 0 in the process
 * that goes on to exec Node, 125 on failure (reported on stderr and the sync fd). */
int enter_user_namespace(const struct userns_request *request);

#endif
