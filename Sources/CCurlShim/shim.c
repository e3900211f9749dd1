#define _GNU_SOURCE
#include "CCurlShim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static int fail(char *error, const char *what, const char *detail) {
    if (error) snprintf(error, 256, "%s: %s", what, detail);
    return -1;
}

/* ---------------------------------------------------------------- libcurl, loaded on first use */

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    void (*easy_cleanup)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    char error[256];
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(curl.error, sizeof curl.error, "cannot load libcurl: %s", dlerror());
        return;
    }
#define LOAD(field, symbol) *(void **)&curl.field = dlsym(library, symbol)
    LOAD(global_init, "curl_global_init");
    LOAD(easy_init, "curl_easy_init");
    LOAD(easy_setopt, "curl_easy_setopt");
    LOAD(easy_perform, "curl_easy_perform");
    LOAD(easy_getinfo, "curl_easy_getinfo");
    LOAD(easy_strerror, "curl_easy_strerror");
    LOAD(easy_cleanup, "curl_easy_cleanup");
    LOAD(slist_append, "curl_slist_append");
    LOAD(slist_free_all, "curl_slist_free_all");
#undef LOAD
    if (!curl.global_init || !curl.easy_init || !curl.easy_setopt || !curl.easy_perform || !curl.easy_getinfo
        || !curl.easy_strerror || !curl.easy_cleanup || !curl.slist_append || !curl.slist_free_all) {
        snprintf(curl.error, sizeof curl.error, "libcurl lacks a function resmon needs");
        curl.easy_init = NULL;
        return;
    }
    curl.global_init(CURL_GLOBAL_DEFAULT);
}

/* A new handle with the options every request shares, or NULL with error filled. */
static CURL *open_handle(const char *socket_path, const char *url, const char *headers,
                         struct curl_slist **list, char *curl_error, char *error) {
    pthread_once(&curl_once, curl_load);
    if (!curl.easy_init) {
        fail(error, "curl", curl.error);
        return NULL;
    }
    CURL *handle = curl.easy_init();
    if (!handle) {
        fail(error, "curl", "curl_easy_init failed");
        return NULL;
    }
    *list = NULL;
    if (headers) {
        char *copy = strdup(headers);
        char *saved = NULL;
        for (char *line = copy ? strtok_r(copy, "\n", &saved) : NULL; line; line = strtok_r(NULL, "\n", &saved))
            *list = curl.slist_append(*list, line);
        free(copy);
    }
    curl.easy_setopt(handle, CURLOPT_URL, url);
    if (socket_path) curl.easy_setopt(handle, CURLOPT_UNIX_SOCKET_PATH, socket_path);
    curl.easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(handle, CURLOPT_ERRORBUFFER, curl_error);
    curl.easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    if (*list) curl.easy_setopt(handle, CURLOPT_HTTPHEADER, *list);
    return handle;
}

static void describe_failure(CURL *handle, CURLcode code, const char *curl_error, char *error) {
    long os_error = 0;
    curl.easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_error);
    if (code == CURLE_COULDNT_CONNECT && os_error != 0)
        fail(error, "connect", strerror((int)os_error));
    else
        fail(error, curl.easy_strerror(code), curl_error[0] ? curl_error : "no detail");
}

/* ---------------------------------------------------------------- one request */

struct rs_buffer {
    char *data;
    size_t length;
    size_t capacity;
    size_t limit;
};

static size_t collect_body(char *data, size_t size, size_t count, void *cls) {
    struct rs_buffer *buffer = cls;
    size_t incoming = size * count;
    if (buffer->length + incoming > buffer->limit) return 0; /* aborts the transfer */
    if (buffer->length + incoming + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->length + incoming + 1) capacity *= 2;
        char *grown = realloc(buffer->data, capacity);
        if (!grown) return 0;
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, data, incoming);
    buffer->length += incoming;
    buffer->data[buffer->length] = '\0';
    return incoming;
}

int rs_http_fetch(const char *socket_path, const char *url, const char *method,
                  const char *request_body, size_t request_length, const char *headers,
                  long timeout_ms, size_t max_response_bytes,
                  long *status, char **body, size_t *body_length, char *error) {
    *body = NULL;
    *body_length = 0;
    *status = 0;
    char curl_error[CURL_ERROR_SIZE] = {0};
    struct curl_slist *list = NULL;
    CURL *handle = open_handle(socket_path, url, headers, &list, curl_error, error);
    if (!handle) return -1;
    struct rs_buffer buffer = {.limit = max_response_bytes};
    curl.easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
    curl.easy_setopt(handle, CURLOPT_WRITEDATA, &buffer);
    if (method && strcmp(method, "GET") != 0) {
        if (strcmp(method, "HEAD") == 0) curl.easy_setopt(handle, CURLOPT_NOBODY, 1L);
        else curl.easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method);
    }
    if (request_body) {
        curl.easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request_length);
        curl.easy_setopt(handle, CURLOPT_POSTFIELDS, request_body);
    }
    CURLcode code = curl.easy_perform(handle);
    int result = 0;
    if (code != CURLE_OK) {
        describe_failure(handle, code, curl_error, error);
        result = (int)code;
        free(buffer.data);
    } else {
        curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
        *body = buffer.data ? buffer.data : strdup("");
        *body_length = buffer.length;
    }
    curl.slist_free_all(list);
    curl.easy_cleanup(handle);
    return result;
}

/* ---------------------------------------------------------------- a streamed body */

struct rs_stream_target {
    rs_http_chunk on_chunk;
    void *context;
};

static size_t pass_chunk(char *data, size_t size, size_t count, void *cls) {
    struct rs_stream_target *target = cls;
    size_t incoming = size * count;
    return target->on_chunk(data, incoming, target->context) ? incoming : 0;
}

int rs_http_stream(const char *socket_path, const char *url, const char *headers,
                   long connect_timeout_ms, long idle_ms, rs_http_chunk on_chunk, void *context,
                   long *status, char *error) {
    *status = 0;
    char curl_error[CURL_ERROR_SIZE] = {0};
    struct curl_slist *list = NULL;
    CURL *handle = open_handle(socket_path, url, headers, &list, curl_error, error);
    if (!handle) return -1;
    struct rs_stream_target target = {.on_chunk = on_chunk, .context = context};
    curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    if (idle_ms > 0) {
        /* Fewer than 1 byte per second for idle_ms: the server is gone (heartbeats keep it above). */
        curl.easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl.easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, (idle_ms + 999) / 1000);
    }
    curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, pass_chunk);
    curl.easy_setopt(handle, CURLOPT_WRITEDATA, &target);
    CURLcode code = curl.easy_perform(handle);
    curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
    int result = 0;
    if (code != CURLE_OK) {
        describe_failure(handle, code, curl_error, error);
        result = (int)code;
    }
    curl.slist_free_all(list);
    curl.easy_cleanup(handle);
    return result;
}
