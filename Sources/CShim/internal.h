#ifndef RESMON_CSHIM_INTERNAL_H
#define RESMON_CSHIM_INTERNAL_H

/* Shared by the shim's C files, not exported to Swift. */

/* Writes "what: detail" into error (size 256) when given; returns -1. */
int rs_fail(char *error, const char *what, const char *detail);

/* Event streams (stream.c) as the HTTP server (http.c) serves them. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
struct MHD_Connection;
/* The connection that now serves the stream: a write resumes it while it is suspended. */
void rs_stream_attach(rs_stream *stream, struct MHD_Connection *connection);
/* libmicrohttpd's content reader and its free callback (which releases the reference). */
ssize_t rs_stream_read(void *cls, uint64_t position, char *out, size_t maximum);
void rs_stream_done(void *cls);

/* Why the request line or headers libmicrohttpd parsed are not the bytes sent (a raw NUL cut
 * one short), or NULL (request_layout.c). */
const char *rs_request_layout_problem(struct MHD_Connection *connection, const char *method, const char *version,
                                      const char *target);

/* Why the request's Transfer-Encoding and Content-Length lines do not frame its body
 * unambiguously (both given, a coding other than chunked, one given twice), or NULL
 * (request_layout.c). */
const char *rs_request_framing_problem(struct MHD_Connection *connection);

#endif
