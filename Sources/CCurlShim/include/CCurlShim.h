#ifndef RESMON_CCURLSHIM_H
#define RESMON_CCURLSHIM_H

#include <stddef.h>

/* The HTTP client side, apart from the server shim so that resmond does not load libcurl
 * (and the TLS stack it brings) until it needs an HTTP client. */

/* ---- HTTP client (libcurl) ---- */

/* One request; socket_path NULL means TCP. Returns 0 on success, else fills error (size 256).
 * *body is malloc'd (NUL-terminated) and owned by the caller. */
int rs_http_fetch(const char *socket_path, const char *url, const char *method,
                  const char *request_body, size_t request_length, const char *headers,
                  long timeout_ms, size_t max_response_bytes,
                  long *status, char **body, size_t *body_length, char *error);

#endif
