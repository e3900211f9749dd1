#include "CSnappyShim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <snappy-c.h>

static struct {
    snappy_status (*compress)(const char *, size_t, char *, size_t *);
    snappy_status (*uncompress)(const char *, size_t, char *, size_t *);
    size_t (*max_compressed_length)(size_t);
    snappy_status (*uncompressed_length)(const char *, size_t, size_t *);
    char error[256];
} snappy;

static pthread_once_t snappy_once = PTHREAD_ONCE_INIT;

static void snappy_load(void) {
    void *library = dlopen("libsnappy.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libsnappy.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(snappy.error, sizeof snappy.error, "cannot load libsnappy (Debian's libsnappy1v5): %s", dlerror());
        return;
    }
#define LOAD(field, symbol) *(void **)&snappy.field = dlsym(library, symbol)
    LOAD(compress, "snappy_compress");
    LOAD(uncompress, "snappy_uncompress");
    LOAD(max_compressed_length, "snappy_max_compressed_length");
    LOAD(uncompressed_length, "snappy_uncompressed_length");
#undef LOAD
    if (!snappy.compress || !snappy.uncompress || !snappy.max_compressed_length || !snappy.uncompressed_length) {
        snprintf(snappy.error, sizeof snappy.error, "libsnappy lacks a function resmon needs");
        snappy.compress = NULL;
    }
}

int rs_snappy_load(char *error) {
    pthread_once(&snappy_once, snappy_load);
    if (snappy.compress) return 1;
    if (error) snprintf(error, 256, "%s", snappy.error);
    return 0;
}

static int fail(char *error, const char *what, snappy_status status) {
    if (error)
        snprintf(error, 256, "snappy %s: %s", what,
                 status == SNAPPY_INVALID_INPUT ? "invalid input" : status == SNAPPY_BUFFER_TOO_SMALL ? "buffer too small" : "failed");
    return -1;
}

size_t rs_snappy_max_compressed_length(size_t length) {
    return rs_snappy_load(NULL) ? snappy.max_compressed_length(length) : 0;
}

int rs_snappy_compress(const char *input, size_t length, char *output, size_t *output_length, char *error) {
    if (!rs_snappy_load(error)) return -1;
    snappy_status status = snappy.compress(input, length, output, output_length);
    return status == SNAPPY_OK ? 0 : fail(error, "compress", status);
}

int rs_snappy_uncompressed_length(const char *input, size_t length, size_t *result, char *error) {
    if (!rs_snappy_load(error)) return -1;
    snappy_status status = snappy.uncompressed_length(input, length, result);
    return status == SNAPPY_OK ? 0 : fail(error, "uncompressed length", status);
}

int rs_snappy_uncompress(const char *input, size_t length, char *output, size_t *output_length, char *error) {
    if (!rs_snappy_load(error)) return -1;
    snappy_status status = snappy.uncompress(input, length, output, output_length);
    return status == SNAPPY_OK ? 0 : fail(error, "uncompress", status);
}
