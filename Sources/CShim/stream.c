#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- event streams */

/* Room past the capacity that only the last write (rs_stream_finish_with: the overflow notice)
 * may use, so that the notice always fits however full ordinary writes left the buffer. */
#define RS_STREAM_FINAL_ROOM 1024

struct rs_stream {
    pthread_mutex_t lock;
    int references;
    char *buffer;             /* capacity + RS_STREAM_FINAL_ROOM bytes */
    size_t start, length, capacity;
    uint64_t handed;          /* bytes handed to libmicrohttpd so far */
    int partial;              /* the bytes handed over end inside a frame */
    struct MHD_Connection *connection; /* set while a response serves the stream */
    int suspended, finished, closed, aborted;
};

rs_stream *rs_stream_create(size_t capacity) {
    rs_stream *stream = calloc(1, sizeof *stream);
    if (!stream) return NULL;
    stream->buffer = malloc(capacity + RS_STREAM_FINAL_ROOM);
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

int rs_stream_finish_with(rs_stream *stream, const void *data, size_t length) {
    pthread_mutex_lock(&stream->lock);
    int result = 0;
    if (stream->closed || stream->finished) {
        result = -1;
    } else if (stream->length + length > stream->capacity + RS_STREAM_FINAL_ROOM) {
        result = 1;
    } else {
        if (stream->start + stream->length + length > stream->capacity + RS_STREAM_FINAL_ROOM) {
            memmove(stream->buffer, stream->buffer + stream->start, stream->length);
            stream->start = 0;
        }
        memcpy(stream->buffer + stream->start + stream->length, data, length);
        stream->length += length;
    }
    if (result >= 0) {
        stream->finished = 1;
        stream_wake(stream);
    }
    pthread_mutex_unlock(&stream->lock);
    return result;
}

uint64_t rs_stream_discard_unsent(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    uint64_t kept = stream->handed + stream->length;
    if (!stream->partial && !stream->closed && !stream->finished) {
        kept = stream->handed;
        stream->start = stream->length = 0;
        /* What stays is at most the final write: give the pages back (the buffer is mapped). */
        char *smaller = realloc(stream->buffer, RS_STREAM_FINAL_ROOM);
        if (smaller) {
            stream->buffer = smaller;
            stream->capacity = 0;
        }
    }
    pthread_mutex_unlock(&stream->lock);
    return kept;
}

uint64_t rs_stream_handed(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    uint64_t handed = stream->handed;
    pthread_mutex_unlock(&stream->lock);
    return handed;
}

void rs_stream_finish(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    stream->finished = 1;
    stream_wake(stream);
    pthread_mutex_unlock(&stream->lock);
}

/* libmicrohttpd asks for body bytes: hand over what is buffered, or suspend the connection
 * until a write resumes it (returning 0 without suspending would busy-wait). What is handed
 * over ends at a frame's end (a blank line) whenever one is in reach, so that the bytes not yet
 * handed over can be dropped without cutting a frame. */
ssize_t rs_stream_read(void *cls, uint64_t position, char *out, size_t maximum) {
    (void)position;
    rs_stream *stream = cls;
    pthread_mutex_lock(&stream->lock);
    ssize_t result;
    if (stream->aborted) {
        result = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (stream->length > 0) {
        size_t count = stream->length < maximum ? stream->length : maximum;
        const char *bytes = stream->buffer + stream->start;
        size_t frame_end = count;
        while (frame_end >= 2 && !(bytes[frame_end - 1] == '\n' && bytes[frame_end - 2] == '\n')) frame_end--;
        if (frame_end >= 2) {
            count = frame_end;
            stream->partial = 0;
        } else {
            stream->partial = 1; /* a frame longer than libmicrohttpd's block */
        }
        stream->handed += count;
        memcpy(out, bytes, count);
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

void rs_stream_abort(rs_stream *stream) {
    pthread_mutex_lock(&stream->lock);
    stream->aborted = 1;
    stream_wake(stream);
    pthread_mutex_unlock(&stream->lock);
}

void rs_stream_attach(rs_stream *stream, struct MHD_Connection *connection) {
    pthread_mutex_lock(&stream->lock);
    stream->connection = connection;
    pthread_mutex_unlock(&stream->lock);
}
