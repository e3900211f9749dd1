#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---------------------------------------------------------------- listening sockets */

int rs_fail(char *error, const char *what, const char *detail) {
    if (error) snprintf(error, 256, "%s: %s", what, detail);
    return -1;
}

int rs_listen_unix(const char *path, unsigned mode, long gid, char *error) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path)
        return rs_fail(error, path, "socket path is longer than 107 bytes");
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return rs_fail(error, "socket", strerror(errno));
    unlink(path); /* the caller holds the state-dir lock, so a socket here is stale */
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        return rs_fail(error, path, strerror(saved));
    }
    if (chmod(path, mode) != 0 || (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) != 0)) {
        int saved = errno;
        close(fd);
        unlink(path);
        return rs_fail(error, path, strerror(saved));
    }
    if (listen(fd, 64) != 0) {
        int saved = errno;
        close(fd);
        unlink(path);
        return rs_fail(error, path, strerror(saved));
    }
    return fd;
}

int rs_listen_tcp(const char *host, int port, char *error) {
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int status = getaddrinfo(host, service, &hints, &found);
    if (status != 0) return rs_fail(error, host, gai_strerror(status));
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(found);
        return rs_fail(error, "socket", strerror(errno));
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int saved = errno;
        close(fd);
        freeaddrinfo(found);
        char what[300];
        snprintf(what, sizeof what, "%s port %d", host, port);
        return rs_fail(error, what, strerror(saved));
    }
    freeaddrinfo(found);
    return fd;
}

int rs_socket_port(int fd) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    if (address.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&address)->sin_port);
    if (address.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    return -1;
}

/* ---------------------------------------------------------------- systemd */

int rs_sd_notify(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) return 0;
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length >= sizeof address.sun_path) return -1;
    memcpy(address.sun_path, path, length);
    if (address.sun_path[0] == '@') address.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&address, size);
    close(fd);
    return sent < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- memory */

void rs_malloc_trim(void) { malloc_trim(0); }

size_t rs_heap_in_use(void) { return mallinfo2().uordblks; }

void rs_malloc_tune(void) {
    /* Buffers of 128 KiB and more are mapped on their own and unmapped when freed. glibc would
       otherwise raise this threshold after the first such free and serve later large buffers
       (a request of thousands of monitors, its answer, an array growing) from a thread's arena,
       where the pages live allocations pin cannot be given back. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* Two arenas for resmond's handful of threads: fewer heaps to fragment. */
    mallopt(M_ARENA_MAX, 2);
}


