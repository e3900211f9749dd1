/* remote.c: resmon_open_url against the resmond of $RESMON_URL (a TLS listener), with the
 * token file and CA certificate of $RESMON_TOKEN_FILE and $RESMON_CACERT. argv[1] is another
 * CA file, which must not verify the server. Prints what failed; exits 1 then. */
#define _POSIX_C_SOURCE 200809L
#include <resmon.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
    if (argc != 2) return 64;
    resmon_session *session = NULL;
    /* NULLs: the environment's URL, token file and CA. */
    int error = resmon_open_url(NULL, NULL, NULL, &session);
    CHECK(error == 0 && session != NULL);
    if (!session) return 1;
    CHECK(resmon_statistic_push(session, "app:c_remote:value", 7, "") == 0);
    resmon_statistic statistic;
    CHECK(resmon_statistic_get(session, "app:c_remote:value", &statistic) == 0 && statistic.value == 7);
    resmon_close(session);

    /* Without the token TCP is read-only: a push is refused as the HTTP 403 it gets. */
    char *token_file = getenv("RESMON_TOKEN_FILE");
    if (!token_file) return 64;
    token_file = strdup(token_file);
    unsetenv("RESMON_TOKEN_FILE");
    session = NULL;
    CHECK(resmon_open_url(getenv("RESMON_URL"), "/dev/null", getenv("RESMON_CACERT"), &session) == -EINVAL);
    CHECK(session == NULL);
    error = resmon_open_url(getenv("RESMON_URL"), NULL, getenv("RESMON_CACERT"), &session);
    CHECK(error == 0);
    if (session) {
        CHECK(resmon_statistic_push(session, "app:c_remote:other", 1, "") == -EACCES);
        CHECK(resmon_statistic_get(session, "app:c_remote:value", &statistic) == 0);
        resmon_close(session);
    }

    /* A certificate the CA file does not vouch for: no session. */
    session = NULL;
    CHECK(resmon_open_url(getenv("RESMON_URL"), token_file, argv[1], &session) == -ECONNREFUSED);
    CHECK(session == NULL);
    free(token_file);
    return failures ? 1 : 0;
}
