#define _GNU_SOURCE
#include "CCurlShim.h"

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
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
static CURL *open_handle(const char *socket_path, const char *url, const char *headers, const char *ca_file,
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
    /* The certificate is checked (libcurl's default, never turned off here): against ca_file
     * when given, else the system's CAs. */
    if (ca_file) curl.easy_setopt(handle, CURLOPT_CAINFO, ca_file);
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
                  long timeout_ms, size_t max_response_bytes, const char *ca_file,
                  long *status, char **body, size_t *body_length, char *error) {
    *body = NULL;
    *body_length = 0;
    *status = 0;
    char curl_error[CURL_ERROR_SIZE] = {0};
    struct curl_slist *list = NULL;
    CURL *handle = open_handle(socket_path, url, headers, ca_file, &list, curl_error, error);
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

int rs_http_stream(const char *socket_path, const char *url, const char *headers, const char *ca_file,
                   long connect_timeout_ms, long idle_ms, rs_http_chunk on_chunk, void *context,
                   long *status, char *error) {
    *status = 0;
    char curl_error[CURL_ERROR_SIZE] = {0};
    struct curl_slist *list = NULL;
    CURL *handle = open_handle(socket_path, url, headers, ca_file, &list, curl_error, error);
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

/* ---------------------------------------------------------------- a plain HTTP GET */

static long milliseconds_left(const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return left > 0 ? left : 0;
}

/* Waits for fd to be ready for events; 1 ready, 0 timed out, -1 error (errno). EINTR retried. */
static int wait_ready(int fd, short events, const struct timespec *deadline) {
    for (;;) {
        struct pollfd item = {.fd = fd, .events = events};
        int ready = poll(&item, 1, (int)milliseconds_left(deadline));
        if (ready < 0 && errno == EINTR) continue;
        return ready;
    }
}

/* Decodes a chunked body in place; returns its length, or -1 when malformed. */
static long dechunk(char *data, size_t length) {
    size_t in = 0, out = 0;
    for (;;) {
        char *end = NULL;
        if (in >= length) return -1;
        unsigned long size = strtoul(data + in, &end, 16);
        if (end == data + in) return -1;
        char *line_end = memchr(end, '\n', length - (size_t)(end - data));
        if (!line_end) return -1;
        in = (size_t)(line_end - data) + 1;
        if (size == 0) return (long)out;
        if (size > length - in) return -1;
        memmove(data + out, data + in, size);
        out += size;
        in += size;
        if (in < length && data[in] == '\r') in++;
        if (in < length && data[in] == '\n') in++;
    }
}

/* One HTTP/1.0 exchange: `method path`, extra_headers (each line ending in \r\n, or NULL), and
 * request_body (request_length bytes, with its Content-Length) when not NULL. */
static int plain_request(const char *host, const char *port, const char *method, const char *path,
                         const char *extra_headers, const char *request_body, size_t request_length, long timeout_ms,
                         size_t max_body_bytes, long *status, char **body, size_t *body_length, char *error) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
    *body = NULL;
    *body_length = 0;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *addresses = NULL;
    int resolved = getaddrinfo(host, port, &hints, &addresses);
    if (resolved != 0) {
        snprintf(error, 256, "cannot resolve %s: %s", host, gai_strerror(resolved));
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *address = addresses; address && fd < 0; address = address->ai_next) {
        fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, address->ai_protocol);
        if (fd < 0) { saved = errno; continue; }
        if (connect(fd, address->ai_addr, address->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS && wait_ready(fd, POLLOUT, &deadline) == 1) {
            int failure = 0;
            socklen_t size = sizeof failure;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size) == 0 && failure == 0) break;
            saved = failure ? failure : errno;
        } else {
            saved = errno == EINPROGRESS ? ETIMEDOUT : errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(addresses);
    if (fd < 0) {
        snprintf(error, 256, "cannot connect to %s:%s: %s", host, port, strerror(saved ? saved : ETIMEDOUT));
        return -1;
    }

    char length_header[64] = "";
    if (request_body) snprintf(length_header, sizeof length_header, "Content-Length: %zu\r\n", request_length);
    char *request = NULL;
    int head_length = asprintf(&request, "%s %s HTTP/1.0\r\nHost: %s%s%s:%s\r\n%s%sUser-Agent: resmond\r\nConnection: close\r\n\r\n",
                               method, path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
                               extra_headers ? extra_headers : "", length_header);
    if (head_length < 0) {
        close(fd);
        snprintf(error, 256, "out of memory");
        return -1;
    }
    /* The head, then the body. */
    const char *parts[2] = {request, request_body};
    size_t lengths[2] = {(size_t)head_length, request_body ? request_length : 0};
    for (int part = 0; part < 2; part++) {
        for (size_t sent = 0; sent < lengths[part];) {
            ssize_t written = send(fd, parts[part] + sent, lengths[part] - sent, MSG_NOSIGNAL);
            if (written > 0) { sent += (size_t)written; continue; }
            if (written < 0 && errno == EINTR) continue;
            if (written < 0 && errno == EAGAIN && wait_ready(fd, POLLOUT, &deadline) == 1) continue;
            snprintf(error, 256, "cannot send the request: %s", written < 0 && errno != EAGAIN ? strerror(errno) : "timed out");
            free(request);
            close(fd);
            return -1;
        }
    }
    free(request);

    /* The answer: headers (at most 64 KiB) and the body, read until the server closes. */
    size_t limit = max_body_bytes + 65536, capacity = 65536, length = 0;
    char *data = malloc(capacity + 1);
    if (!data) { close(fd); snprintf(error, 256, "out of memory"); return -1; }
    for (;;) {
        if (length == capacity) {
            if (capacity >= limit) {
                free(data);
                close(fd);
                snprintf(error, 256, "the answer is larger than %zu bytes", max_body_bytes);
                return -1;
            }
            capacity = capacity * 2 < limit ? capacity * 2 : limit;
            char *grown = realloc(data, capacity + 1);
            if (!grown) { free(data); close(fd); snprintf(error, 256, "out of memory"); return -1; }
            data = grown;
        }
        ssize_t got = recv(fd, data + length, capacity - length, 0);
        if (got > 0) { length += (size_t)got; continue; }
        if (got == 0) break;
        if (errno == EINTR) continue;
        int ready = errno == EAGAIN ? wait_ready(fd, POLLIN, &deadline) : -1;
        if (ready == 1) continue;
        if (ready == 0) snprintf(error, 256, "timed out after %ld ms", timeout_ms);
        else snprintf(error, 256, "cannot read the answer: %s", strerror(errno));
        free(data);
        close(fd);
        return -1;
    }
    close(fd);
    data[length] = 0;

    int major = 0, minor = 0, code = 0;
    char *header_end = strstr(data, "\r\n\r\n");
    if (sscanf(data, "HTTP/%d.%d %d", &major, &minor, &code) != 3 || !header_end) {
        free(data);
        snprintf(error, 256, "not an HTTP answer");
        return -1;
    }
    *header_end = 0;
    int chunked = 0;
    long content_length = -1;
    for (char *line = strstr(data, "\r\n"); line && *line; line = strstr(line + 2, "\r\n")) {
        char *name = line + 2;
        if (strncasecmp(name, "transfer-encoding:", 18) == 0 && strstr(name, "chunked")) chunked = 1;
        if (strncasecmp(name, "content-length:", 15) == 0) content_length = strtol(name + 15, NULL, 10);
        if (strncasecmp(name, "content-encoding:", 17) == 0 && !strstr(name, "identity")) {
            free(data);
            snprintf(error, 256, "the answer is compressed, which resmond did not ask for");
            return -1;
        }
    }
    size_t start = (size_t)(header_end + 4 - data);
    size_t size = length - start;
    if (chunked) {
        long decoded = dechunk(data + start, size);
        if (decoded < 0) { free(data); snprintf(error, 256, "a malformed chunked answer"); return -1; }
        size = (size_t)decoded;
    } else if (content_length >= 0) {
        if ((size_t)content_length > size) {
            free(data);
            snprintf(error, 256, "the answer ended after %zu of its %ld bytes", size, content_length);
            return -1;
        }
        size = (size_t)content_length;
    }
    if (size > max_body_bytes) {
        free(data);
        snprintf(error, 256, "the answer is larger than %zu bytes", max_body_bytes);
        return -1;
    }
    memmove(data, data + start, size);
    data[size] = 0;
    *body = data;
    *body_length = size;
    *status = code;
    return 0;
}

int rs_http_get_plain(const char *host, const char *port, const char *path, long timeout_ms,
                      size_t max_body_bytes, long *status, char **body, size_t *body_length, char *error) {
    return plain_request(host, port, "GET", path, "Accept: text/plain;version=0.0.4\r\n", NULL, 0, timeout_ms,
                         max_body_bytes, status, body, body_length, error);
}

int rs_http_post_plain(const char *host, const char *port, const char *path, const char *headers,
                       const char *request_body, size_t request_length, long timeout_ms, size_t max_body_bytes,
                       long *status, char **body, size_t *body_length, char *error) {
    return plain_request(host, port, "POST", path, headers, request_body ? request_body : "", request_length, timeout_ms,
                         max_body_bytes, status, body, body_length, error);
}
