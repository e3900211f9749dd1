#ifndef RESMON_CSNAPPYSHIM_H
#define RESMON_CSNAPPYSHIM_H

#include <stddef.h>

/* Snappy's block format (libsnappy, through its C interface snappy-c.h), for Prometheus
 * remote_write bodies. libsnappy is loaded with dlopen on first use, as libcurl is, so resmond
 * maps it, and needs Debian's libsnappy1v5 installed, only when remote_write is configured. */

/* Loads libsnappy if it is not yet: 1 when it is there, else 0 and the reason in error (size 256). */
int rs_snappy_load(char *error);

/* The most bytes compressing `length` bytes can give; 0 when libsnappy cannot be loaded. */
size_t rs_snappy_max_compressed_length(size_t length);

/* Compresses input into output (capacity *output_length, at least
 * rs_snappy_max_compressed_length(length)); sets *output_length. Returns 0, else -1 and a
 * message in error (size 256). */
int rs_snappy_compress(const char *input, size_t length, char *output, size_t *output_length, char *error);

/* The length `input` uncompresses to, into *result. Returns 0, else -1 and a message in error. */
int rs_snappy_uncompressed_length(const char *input, size_t length, size_t *result, char *error);

/* Uncompresses input into output (capacity *output_length); sets *output_length. Returns 0,
 * else -1 and a message in error (size 256). */
int rs_snappy_uncompress(const char *input, size_t length, char *output, size_t *output_length, char *error);

#endif
