#define _GNU_SOURCE
#include "CShim.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

/* ---------------------------------------------------------------- TLS material */

/* The checks libmicrohttpd's own loading makes (gnutls_certificate_set_x509_key_mem2, which
 * also matches the key to the certificate), made before it starts so that a bad file is
 * refused with gnutls' reason and the file at fault rather than "could not start". */
int rs_tls_check(const char *certificate, size_t certificate_length, const char *key, size_t key_length, char *error) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        rs_fail(error, "libmicrohttpd", "this build has no TLS (MHD_FEATURE_TLS)");
        return 1;
    }
    gnutls_datum_t certificate_data = {(unsigned char *)(uintptr_t)certificate, (unsigned)certificate_length};
    gnutls_datum_t key_data = {(unsigned char *)(uintptr_t)key, (unsigned)key_length};
    gnutls_x509_crt_t *chain = NULL;
    unsigned count = 0;
    int result = gnutls_x509_crt_list_import2(&chain, &count, &certificate_data, GNUTLS_X509_FMT_PEM, 0);
    if (result < 0) {
        rs_fail(error, "not a PEM certificate", gnutls_strerror(result));
        return 1;
    }
    for (unsigned index = 0; index < count; index++) gnutls_x509_crt_deinit(chain[index]);
    gnutls_free(chain);
    if (count == 0) {
        rs_fail(error, "not a PEM certificate", "no certificate in the file");
        return 1;
    }
    gnutls_x509_privkey_t private_key;
    if (gnutls_x509_privkey_init(&private_key) < 0) {
        rs_fail(error, "gnutls", "out of memory");
        return 2;
    }
    result = gnutls_x509_privkey_import2(private_key, &key_data, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_x509_privkey_deinit(private_key);
    if (result < 0) {
        int encrypted = memmem(key, key_length, "ENCRYPTED", 9) != NULL;
        rs_fail(error, encrypted ? "an encrypted key (resmond starts unattended: store it unencrypted, mode 0600)" : "not a PEM private key",
                gnutls_strerror(result));
        return 2;
    }
    gnutls_certificate_credentials_t credentials;
    if (gnutls_certificate_allocate_credentials(&credentials) < 0) {
        rs_fail(error, "gnutls", "out of memory");
        return 2;
    }
    result = gnutls_certificate_set_x509_key_mem2(credentials, &certificate_data, &key_data, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(credentials);
    if (result == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        rs_fail(error, "the key does not match the certificate", gnutls_strerror(result));
        return 2;
    }
    if (result < 0) {
        rs_fail(error, "the certificate and key cannot be used together", gnutls_strerror(result));
        return 1;
    }
    return 0;
}
