/* mw_sha256.h - SHA-256 message digest (FIPS 180-4) */

#ifndef MW_SHA256_H
#define MW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MW_SHA256_DIGEST_SIZE 32
#define MW_SHA256_HEX_SIZE 65 /* 64 hex digits + NUL */

/*
 * Streaming SHA-256 state. Unlike most moonwatch types this struct is public
 * so a caller can keep it on the stack; treat the fields as private.
 * It owns no heap memory, so there is nothing to destroy.
 */
struct mw_sha256 {
    uint32_t h[8];     /* owned: chaining value H0..H7 */
    uint64_t nbytes;   /* owned: message length so far, in bytes */
    uint8_t block[64]; /* owned: pending partial block */
    size_t used;       /* owned: bytes pending in block, 0..63 */
};

/*
 * Start a new digest in `ctx` (NULL not allowed). Also resets a context that
 * was used before, so one struct can hash several messages in turn.
 */
void mw_sha256_init(struct mw_sha256 *ctx);

/*
 * Feed `len` bytes at `data` into the digest. Any chunking gives the same
 * result as one call with the whole message. `ctx` must be initialised and
 * not NULL; `data` may be NULL only when `len` is 0. The data is only read
 * during the call (not retained). Messages up to 2^61 - 1 bytes are
 * supported, as FIPS 180-4 requires.
 */
void mw_sha256_update(struct mw_sha256 *ctx, const void *data, size_t len);

/*
 * Finish the digest and write its 32 bytes to `out` (not NULL). Afterwards
 * `ctx` is wiped; call mw_sha256_init() before using it again.
 */
void mw_sha256_final(struct mw_sha256 *ctx, uint8_t out[32]);

/*
 * One-shot convenience: the digest of `len` bytes at `data` (NULL allowed when
 * `len` is 0) as 64 lowercase hex digits plus a NUL, written to `out` (not
 * NULL, at least MW_SHA256_HEX_SIZE bytes).
 */
void mw_sha256_hex(const void *data, size_t len, char out[65]);

#endif /* MW_SHA256_H */
