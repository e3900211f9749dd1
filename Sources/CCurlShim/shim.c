#define _GNU_SOURCE
#include "CCurlShim.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static int fail(char *error, const char *what, const char *detail) {
    if (error) snprintf(error, 256, "%s: %s", what, detail);
    return -1;
}

/* ---------------------------------------------------------------- HTTP client */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_initialize(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

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
    pthread_once(&curl_once, curl_initialize);
    *body = NULL;
    *body_length = 0;
    *status = 0;
    CURL *curl = curl_easy_init();
    if (!curl) return fail(error, "curl", "curl_easy_init failed");
    char curl_error[CURL_ERROR_SIZE] = {0};
    struct rs_buffer buffer = {.limit = max_response_bytes};
    struct curl_slist *list = NULL;
    if (headers) {
        char *copy = strdup(headers);
        for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) list = curl_slist_append(list, line);
        free(copy);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (socket_path) curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buffer);
    if (list) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (method && strcmp(method, "GET") != 0) {
        if (strcmp(method, "HEAD") == 0) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        else curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if (request_body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request_length);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request_body);
    }
    CURLcode code = curl_easy_perform(curl);
    int result = 0;
    if (code != CURLE_OK) {
        long os_error = 0;
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_error);
        if (code == CURLE_COULDNT_CONNECT && os_error != 0)
            fail(error, "connect", strerror((int)os_error));
        else
            fail(error, curl_easy_strerror(code), curl_error[0] ? curl_error : "no detail");
        result = (int)code;
        free(buffer.data);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
        *body = buffer.data ? buffer.data : strdup("");
        *body_length = buffer.length;
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return result;
}

