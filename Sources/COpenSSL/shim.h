// Header-only shim over the system libcrypto (OpenSSL 3).
// OPENSSL_free and friends are function-like macros Swift cannot import.
#ifndef TENURE_COPENSSL_SHIM_H
#define TENURE_COPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>

static inline void copenssl_free(void * _Nullable ptr) { OPENSSL_free(ptr); }

static inline void copenssl_cleanse(void * _Nonnull ptr, size_t len) { OPENSSL_cleanse(ptr, len); }

#endif
