#ifndef RESMON_CRE2_H
#define RESMON_CRE2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RE2 (Debian's libre2) behind a C interface, for ResmonSystem's BoundedRegex. RE2 matches in
 * time linear in the text and keeps each pattern within a memory budget, where glibc's regcomp
 * and regexec have no bounds (issue 22: 59 s of CPU for one backreference pattern, 550 MB for
 * a{1,32767}). */

/* A compiled pattern; immutable, so any number of threads may search it at once. */
typedef struct rs_re2_pattern rs_re2_pattern;

/* Compiles pattern (length bytes, UTF-8; a NUL byte is an ordinary character) with RE2's
 * syntax, `.` matching a newline too, within max_memory bytes for the compiled program and its
 * DFA caches. Returns NULL on failure and writes RE2's reason, NUL-terminated, into error
 * (error_capacity bytes); *too_large is set to 1 when the reason is only that the program
 * exceeds max_memory (a larger budget might compile it), else 0. */
rs_re2_pattern *rs_re2_compile(const char *pattern, size_t length, int64_t max_memory,
                               char *error, size_t error_capacity, int *too_large);

/* 1 when the pattern occurs anywhere in text (an unanchored search), else 0. */
int rs_re2_search(const rs_re2_pattern *compiled, const char *text, size_t length);

void rs_re2_free(rs_re2_pattern *compiled);

#ifdef __cplusplus
}
#endif

#endif
