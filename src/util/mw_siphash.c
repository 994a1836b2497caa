/* mw_siphash.c - SipHash-2-4 and the process's hash seed
 *
 * Every hash table whose keys come from events (join keys, window groups,
 * suppression and dedup keys: all of them mw_dict) hashes with SipHash-2-4
 * (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) under
 * a 128-bit key drawn once per process from getrandom(2). Without the key
 * nobody can predict which bucket a key lands in, so an attacker who
 * writes event lines cannot fill one chain and make every lookup walk it
 * (the unkeyed FNV-1a used before fell to 40k keys found offline).
 *
 * Written from the paper's description: the state v0..v3 is the key xored
 * with "somepseudorandomlygeneratedbytes"; each 8-byte little-endian word m
 * is xored into v3, goes through 2 SipRounds, then into v0; the last word
 * holds the remaining bytes and the length mod 256 in its top byte; then
 * v2 ^= 0xff and 4 SipRounds; the output is v0^v1^v2^v3. test_dict.c
 * checks it against the paper's vectors.
 *
 * The seed is set up once (pthread_once) on first use, from any thread.
 * When getrandom fails (an old kernel), /dev/urandom is read; when that
 * fails too, the clock, pid and addresses are mixed in and a warning is
 * logged: tables still work, with a weaker guarantee.
 */
#include "mw_dict.h"
#include "mw_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                         \
    do {                                                                                 \
        v0 += v1;                                                                        \
        v1 = ROTL(v1, 13);                                                               \
        v1 ^= v0;                                                                        \
        v0 = ROTL(v0, 32);                                                               \
        v2 += v3;                                                                        \
        v3 = ROTL(v3, 16);                                                               \
        v3 ^= v2;                                                                        \
        v0 += v3;                                                                        \
        v3 = ROTL(v3, 21);                                                               \
        v3 ^= v0;                                                                        \
        v2 += v1;                                                                        \
        v1 = ROTL(v1, 17);                                                               \
        v1 ^= v2;                                                                        \
        v2 = ROTL(v2, 32);                                                               \
    } while (0)

static uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t mw_siphash24(const unsigned char key[16], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    size_t full = len - len % 8;
    uint64_t m;

    for (size_t i = 0; i < full; i += 8) {
        m = load_le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    m = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        m |= (uint64_t)p[full + i] << (8 * i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---------------------------------------------------------------------- */
/* the process seed                                                        */

static unsigned char seed[16];
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static int read_urandom(unsigned char *out, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t got = 0;
    if (fd < 0)
        return -1;
    while (got < n) {
        ssize_t r = read(fd, out + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return got == n ? 0 : -1;
}

static void seed_init(void)
{
    size_t got = 0;
    while (got < sizeof(seed)) {
        ssize_t r = getrandom(seed + got, sizeof(seed) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == sizeof(seed) || read_urandom(seed, sizeof(seed)) == 0)
        return;
    /* no randomness source: better than a fixed key, but predictable */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t mix[4] = {(uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec, (uint64_t)getpid(),
                       (uint64_t)(uintptr_t)&ts};
    uint64_t a = mw_siphash24(seed, mix, sizeof(mix));
    uint64_t b = mw_siphash24(seed, &a, sizeof(a));
    memcpy(seed, &a, 8);
    memcpy(seed + 8, &b, 8);
    mw_log_warn("no random source (getrandom, /dev/urandom): hash tables use a "
                "predictable seed");
}

uint64_t mw_hash_bytes(const void *data, size_t len)
{
    pthread_once(&seed_once, seed_init);
    return mw_siphash24(seed, data, len);
}
