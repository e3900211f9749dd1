#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- event streams */

struct rs_stream {
    pthread_mutex_t lock;
    int references;
    char *buffer;
    size_t start, length, capacity;
    struct MHD_Connection *connection; /* set while a response serves the stream */
    int suspended, finished, closed;
};

rs_stream *rs_stream_create(size_t capacity) {
    rs_stream *stream = calloc(1, sizeof *stream);
    if (!stream) return NULL;
    stream->buffer = malloc(capacity ? capacity : 1);
    if (!stream->buffer) {
        free(stream);
        return NULL;
    }
    pthread_mutex_init(&stream->lock, NULL);
    stream->references = 1;
    stream->capacity = capacity;
    return stream;
}

void rs_stream_retain(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    stream->references++;
    pthread_mutex_unlock(&stream->lock);
}

void rs_stream_release(rs_stream *stream) {
    if (!stream) return;
    pthread_mutex_lock(&stream->lock);
    int left = --stream->references;
    pthread_mutex_unlock(&stream->lock);
    if (left > 0) return;
    pthread_mutex_destroy(&stream->lock);
    free(stream->buffer);
    free(stream);
}

/* With the lock held: lets a suspended connection run again. */
static void stream_wake(rs_stream *stream) {
    if (stream->suspended && stream->connection) {
        stream->suspended = 0;
        MHD_resume_connection(stream->connection);
    }
}

int rs_stream_write(rs_stream *stream, const void *data, size_t length) {
    pthread_mutex_lock(&stream->lock);
    int result = 0;
    if (stream->closed || stream->finished) {
        result = -1;
    } else if (stream->length + length > stream->capacity) {
        result = 1;
    } else {
        if (stream->start + stream->length + length > stream->capacity) {
            memmove(stream->buffer, stream->buffer + stream->start, stream->length);
            stream->start = 0;
        }
        memcpy(stream->buffer + stream->start + stream->length, data, length);
        stream->length += length;
        stream_wake(stream);
    }
    pthread_mutex_unlock(&stream->lock);
    return result;
}

size_t rs_stream_space(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    size_t space = stream->closed || stream->finished ? 0 : stream->capacity - stream->length;
    pthread_mutex_unlock(&stream->lock);
    return space;
}

int rs_stream_closed(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    int closed = stream->closed;
    pthread_mutex_unlock(&stream->lock);
    return closed;
}

void rs_stream_finish(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    stream->finished = 1;
    stream_wake(stream);
    pthread_mutex_unlock(&stream->lock);
}

/* libmicrohttpd asks for body bytes: hand over what is buffered, or suspend the connection
 * until a write resumes it (returning 0 without suspending would busy-wait). */
ssize_t rs_stream_read(void *cls, uint64_t position, char *out, size_t maximum) {
    (void)position;
    rs_stream *stream = cls;
    pthread_mutex_lock(&stream->lock);
    ssize_t result;
    if (stream->length > 0) {
        size_t count = stream->length < maximum ? stream->length : maximum;
        memcpy(out, stream->buffer + stream->start, count);
        stream->start += count;
        stream->length -= count;
        if (stream->length == 0) stream->start = 0;
        result = (ssize_t)count;
    } else if (stream->finished) {
        result = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        stream->suspended = 1;
        MHD_suspend_connection(stream->connection);
        result = 0;
    }
    pthread_mutex_unlock(&stream->lock);
    return result;
}

void rs_stream_done(void *cls) {
    rs_stream *stream = cls;
    pthread_mutex_lock(&stream->lock);
    stream->closed = 1;
    stream->connection = NULL;
    stream->suspended = 0;
    pthread_mutex_unlock(&stream->lock);
    rs_stream_release(stream);
}

void rs_stream_attach(rs_stream *stream, struct MHD_Connection *connection) {
    pthread_mutex_lock(&stream->lock);
    stream->connection = connection;
    pthread_mutex_unlock(&stream->lock);
}
