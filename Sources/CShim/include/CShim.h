#ifndef RESMON_CSHIM_H
#define RESMON_CSHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The C side of resmon: every call that Swift cannot make (variadic functions, closed enums,
 * struct ucred) lives here, behind plain structs and functions. */

/* ---- HTTP server (libmicrohttpd) ---- */

typedef struct rs_http_request {
    const char *method;
    const char *path;             /* percent-decoded by libmicrohttpd, without the query */
    const char *target;           /* path and query as sent, not decoded (the query is parsed from it); NULL when unknown */
    const char *const *header_names;
    const char *const *header_values;
    int header_count;
    const char *body;
    size_t body_length;
    int body_too_large;           /* the body passed max_body_bytes and was discarded */
    const char *malformed;        /* why the request line or headers cannot be trusted (a raw NUL); else NULL */
    int transport;                /* 0 = Unix socket, 1 = TCP */
    long peer_uid;                /* -1 when unknown (TCP) */
    long peer_gid;
    long peer_pid;
    const char *peer_address;     /* TCP: the client's numeric address; else NULL */
    void *stream_slot;            /* for rs_http_claim_stream, during the handler's call only */
} rs_http_request;

/* Claims the request's connection a place among the listener's event streams (http.c): 0 when
 * granted, else the status to refuse with (429: the peer, a TCP address or a uid other than
 * root, holds its share; 503: the listener does) and why in message (size 256). A claim ends
 * with the request. */
int rs_http_claim_stream(void *stream_slot, char *message);

/* A server-sent event stream: the handler creates one, hands it to the response, and keeps a
 * reference to write into it from any thread. The connection is suspended while the buffer is
 * empty (no busy-waiting) and resumed by a write. */
typedef struct rs_stream rs_stream;

/* A stream whose buffer holds at most capacity bytes; the caller holds one reference. */
rs_stream *rs_stream_create(size_t capacity);
/* Appends bytes: 0 when buffered, 1 when they do not fit (nothing written), -1 when the
 * connection is gone or the stream finished. Bytes, not text: void so that Swift passes a
 * [UInt8] as it is. */
int rs_stream_write(rs_stream *stream, const void *data, size_t length);
/* Free bytes in the buffer. */
size_t rs_stream_space(rs_stream *stream);
/* Whether the peer is gone (the response was released). */
int rs_stream_closed(rs_stream *stream);
/* Ends the body once the buffer has been sent. */
void rs_stream_finish(rs_stream *stream);
/* Appends a last message (at most 1 KiB) and ends the body: it fits however full the buffer is.
 * 0 when written, -1 when the connection is gone or the stream finished. */
int rs_stream_finish_with(rs_stream *stream, const void *data, size_t length);
/* Drops the buffered bytes libmicrohttpd has not taken yet, unless it has taken part of a frame,
 * and releases the buffer's memory. Returns how many of the bytes ever written will be sent. */
uint64_t rs_stream_discard_unsent(rs_stream *stream);
/* Bytes libmicrohttpd has taken so far, all at frame ends unless a frame was longer than its block. */
uint64_t rs_stream_handed(rs_stream *stream);
void rs_stream_retain(rs_stream *stream);
void rs_stream_release(rs_stream *stream);

typedef struct rs_http_response {
    int status;
    const char *content_type;     /* must stay valid until the handler returns */
    char *body;                   /* malloc'd; the shim frees it */
    size_t body_length;
    char *extra_headers;          /* malloc'd "Name: value\n" lines or NULL; freed by the shim */
    rs_stream *stream;            /* when set, the body is this stream; the handler hands over one reference */
} rs_http_response;

typedef void (*rs_http_handler)(const rs_http_request *request, rs_http_response *response, void *context);

typedef struct rs_http_server rs_http_server;

/* Listening sockets. On failure they return -1 and write a message into error (size 256). */
int rs_listen_unix(const char *path, unsigned mode, long gid, char *error);
int rs_listen_tcp(const char *host, int port, char *error);
int rs_socket_port(int fd);

typedef struct rs_http_limits {
    size_t max_body_bytes;
    unsigned threads;
    unsigned connection_limit;
    unsigned connections_per_address; /* TCP only; 0: no limit */
    unsigned idle_seconds;            /* a connection silent this long is closed */
    unsigned request_seconds;         /* a request's line, headers and body must arrive within this */
    unsigned header_seconds;          /* its line and headers within this (or request_seconds if shorter) */
    unsigned streams_per_peer;        /* event streams one TCP address or non-root uid may hold (0: none) */
    unsigned max_streams;             /* event streams the listener may hold */
    const char *tls_certificate;      /* PEM (NUL-terminated): serve TLS with it and tls_key; NULL: plain HTTP */
    const char *tls_key;              /* PEM, unencrypted; copied, and wiped when the server stops */
} rs_http_limits;

/* Checks a PEM certificate (chain) and its private key as the TLS listener would load them:
 * 0 when usable, else 1 (the certificate is at fault) or 2 (the key is: unreadable, encrypted,
 * or not the certificate's), with the reason in error (size 256). Also refuses when
 * libmicrohttpd was built without TLS (1). tls.c, with gnutls as libmicrohttpd uses it. */
int rs_tls_check(const char *certificate, size_t certificate_length, const char *key, size_t key_length, char *error);

/* Starts serving fd on libmicrohttpd's own threads. Returns NULL and fills error on failure. */
rs_http_server *rs_http_start(int fd, int transport, rs_http_handler handler, void *context,
                              const rs_http_limits *limits, char *error);
void rs_http_stop(rs_http_server *server);
/* Makes the connections accepted on the listening socket `fd` the server's own, with its
 * threads, limits and deadlines: for the Unix socket bound again at its path. The socket it
 * adopted before, if any, is closed. Takes `fd` (closed on failure too); 0, or -1 with `error`. */
int rs_http_adopt(rs_http_server *server, int fd, char *error);

/* ---- systemd and process helpers ---- */

/* Returns freed heap memory to the system (glibc's malloc_trim). */
void rs_malloc_trim(void);

/* Bytes of the heap's main arena in use (glibc's mallinfo2().uordblks): for accounting in tests. */
size_t rs_heap_in_use(void);

/* A long-running daemon's malloc: large buffers go back to the system when freed, two arenas. */
void rs_malloc_tune(void);

/* Sends state (e.g. "READY=1") to $NOTIFY_SOCKET; 0 when sent or when there is no socket. */
int rs_sd_notify(const char *state);

#endif
