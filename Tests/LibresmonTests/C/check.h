/* check.h: what the C checks share. CHECK records a failed condition with libresmon's last error
 * and goes on; main returns `failures != 0`. */
#ifndef RESMON_TEST_CHECK_H
#define RESMON_TEST_CHECK_H

#include <resmon.h>
#include <stdio.h>

static int failures;
#define CHECK(condition)                                                                                        \
    do {                                                                                                        \
        if (!(condition)) {                                                                                     \
            fprintf(stderr, "%s:%d: failed: %s (last error: %s)\n", __FILE__, __LINE__, #condition, resmon_last_error()); \
            failures++;                                                                                         \
        }                                                                                                       \
    } while (0)

#endif
