/* mw_sha256.c - SHA-256 message digest, written from FIPS 180-4 */

/*
 * Design. A plain, portable implementation of FIPS 180-4 section 6.2: the
 * message is buffered into 64-byte blocks, each block is expanded into a
 * 64-word schedule and compressed into the eight-word chaining value.
 * Words are assembled from bytes explicitly (big-endian), so the code has no
 * alignment or host-endianness assumptions. Nothing is allocated.
 *
 * Invariants: between calls, ctx->used < 64 and ctx->block[0..used) holds the
 * bytes not yet compressed; ctx->nbytes counts every byte fed so far (modulo
 * 2^64, which only matters beyond the 2^61-byte limit of the standard).
 *
 * This is used for content identifiers (e.g. rule-file fingerprints), not for
 * secrets: it makes no attempt to be constant-time or to wipe the stack.
 */

#include "mw_sha256.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Constants (FIPS 180-4 sections 4.2.2 and 5.3.3)                          */
/* ------------------------------------------------------------------------ */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* ------------------------------------------------------------------------ */
/* Compression (FIPS 180-4 sections 4.1.2 and 6.2.2)                        */
/* ------------------------------------------------------------------------ */

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr((x), 2) ^ rotr((x), 13) ^ rotr((x), 22))
#define BSIG1(x) (rotr((x), 6) ^ rotr((x), 11) ^ rotr((x), 25))
#define SSIG0(x) (rotr((x), 7) ^ rotr((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr((x), 17) ^ rotr((x), 19) ^ ((x) >> 10))

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Compress one 64-byte block into h[8]. */
static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];
    uint32_t a, b, c, d, e, f, g, hh;

    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++)
        w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];

    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    f = h[5];
    g = h[6];
    hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + BSIG1(e) + CH(e, f, g) + K[t] + w[t];
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

void mw_sha256_init(struct mw_sha256 *ctx)
{
    memcpy(ctx->h, H0, sizeof ctx->h);
    ctx->nbytes = 0;
    memset(ctx->block, 0, sizeof ctx->block);
    ctx->used = 0;
}

void mw_sha256_update(struct mw_sha256 *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;

    if (len == 0)
        return; /* also makes (NULL, 0) safe: no pointer arithmetic on NULL */
    ctx->nbytes += (uint64_t)len;

    /* Top up a partial block first. */
    if (ctx->used > 0) {
        size_t take = 64 - ctx->used;
        if (take > len)
            take = len;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < 64)
            return;
        compress(ctx->h, ctx->block);
        ctx->used = 0;
    }
    /* Whole blocks straight from the input. */
    while (len >= 64) {
        compress(ctx->h, p);
        p += 64;
        len -= 64;
    }
    /* Keep the tail. */
    if (len > 0) {
        memcpy(ctx->block, p, len);
        ctx->used = len;
    }
}

void mw_sha256_final(struct mw_sha256 *ctx, uint8_t out[32])
{
    uint64_t bits = ctx->nbytes * 8;

    /* Padding (section 5.1.1): 0x80, zeros, then the 64-bit bit length. */
    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->block + ctx->used, 0, 64 - ctx->used);
        compress(ctx->h, ctx->block);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, 56 - ctx->used);
    store_be32(ctx->block + 56, (uint32_t)(bits >> 32));
    store_be32(ctx->block + 60, (uint32_t)bits);
    compress(ctx->h, ctx->block);

    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, ctx->h[i]);
    memset(ctx, 0, sizeof *ctx);
}

void mw_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hexdigits[] = "0123456789abcdef";
    struct mw_sha256 ctx;
    uint8_t digest[MW_SHA256_DIGEST_SIZE];

    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, data, len);
    mw_sha256_final(&ctx, digest);
    for (int i = 0; i < MW_SHA256_DIGEST_SIZE; i++) {
        out[2 * i] = hexdigits[digest[i] >> 4];
        out[2 * i + 1] = hexdigits[digest[i] & 0x0f];
    }
    out[64] = '\0';
}
