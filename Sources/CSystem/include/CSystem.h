#ifndef RESMON_CSYSTEM_H
#define RESMON_CSYSTEM_H

/* The system calls ResmonSystem needs that Swift's Glibc module does not import (GNU
   extensions) or cannot call (variadic). Nothing here links anything beyond libc. */

/* A pipe whose ends are close-on-exec from the start (pipe2): no posix_spawn in another thread
   can inherit them between pipe() and fcntl(). 0 on success, else -1 with errno set. */
int rs_pipe_cloexec(int ends[2]);

/* Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER, variadic in C): what a
   plug-in's program leaves running when it exits is re-parented to resmond, which kills and
   reaps it, instead of to init. 0 on success, else -1 with errno set. */
int rs_set_child_subreaper(void);

/* Fills `buffer` with `count` bytes from the kernel's random generator (getrandom, which glibc
   declares in <sys/random.h>, not imported by Swift's Glibc module), retrying interrupted and
   partial reads. 0 on success, else -1 with errno set. */
int rs_random_bytes(void *buffer, unsigned long count);

#endif
