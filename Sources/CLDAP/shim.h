// Header-only shim over the system libldap (OpenLDAP 2.5+).
// A systemLibrary target cannot hold .c files, so helpers are `static inline`.
// Every helper exists because Swift cannot express the C directly:
//  - LDAP_OPT_ON is `((void *) &ber_pvt_opt_on)`, a macro Swift cannot import;
//  - integer options take `int *` and a Swift `Int` is 8 bytes (Perfect-LDAP's bug);
//  - timeouts take `struct timeval *`.
#ifndef TENURE_CLDAP_SHIM_H
#define TENURE_CLDAP_SHIM_H

#include <ldap.h>
#include <lber.h>
#include <sys/time.h>

static inline const void * _Nonnull cldap_opt_on(void) { return LDAP_OPT_ON; }

static inline int cldap_set_int_option(LDAP * _Nullable ld, int option, int value) {
    return ldap_set_option(ld, option, &value);
}

static inline int cldap_get_int_option(LDAP * _Nonnull ld, int option, int * _Nonnull value) {
    return ldap_get_option(ld, option, value);
}

static inline int cldap_set_bool_option(LDAP * _Nullable ld, int option, int on) {
    return ldap_set_option(ld, option, on ? LDAP_OPT_ON : LDAP_OPT_OFF);
}

static inline int cldap_set_timeout_option(LDAP * _Nullable ld, int option, long seconds, long microseconds) {
    struct timeval tv;
    tv.tv_sec = seconds;
    tv.tv_usec = microseconds;
    return ldap_set_option(ld, option, &tv);
}

static inline int cldap_set_string_option(LDAP * _Nullable ld, int option, const char * _Nonnull value) {
    return ldap_set_option(ld, option, value);
}

/// The diagnostic message of the last operation on `ld`, or NULL. Free with ldap_memfree.
static inline char * _Nullable cldap_diagnostic_message(LDAP * _Nonnull ld) {
    char *msg = NULL;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) != LDAP_OPT_SUCCESS) { return NULL; }
    return msg;
}

/// The result code of the last operation on `ld`.
static inline int cldap_result_code(LDAP * _Nonnull ld) {
    int rc = LDAP_OTHER;
    if (ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc) != LDAP_OPT_SUCCESS) { return LDAP_OTHER; }
    return rc;
}

/// ber_free's second argument must be 0 for a BerElement from ldap_first_attribute.
static inline void cldap_ber_free(BerElement * _Nullable ber) {
    if (ber != NULL) { ber_free(ber, 0); }
}

#endif
