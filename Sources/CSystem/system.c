#define _GNU_SOURCE
#include "CSystem.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

int rs_pipe_cloexec(int ends[2]) { return pipe2(ends, O_CLOEXEC); }

int rs_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL); }
