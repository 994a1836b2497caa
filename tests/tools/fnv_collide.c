/* fnv_collide.c - join keys that collide in one bucket of the old dict hash
 *
 *   fnv_collide N BITS [random]
 *
 * Prints N distinct 8-character user names, one a line, whose join key (as
 * mw_key builds it for one string field: 's', the length as a
 * little-endian uint32, the bytes) has the same low BITS bits under the
 * hash mw_dict used before it was keyed: 64-bit FNV-1a with a fixed
 * avalanche, no seed. A table of up to 2^BITS buckets then keeps every one
 * of these keys in one chain, so each lookup walks all of them (the rule
 * thread goes quadratic). With "random", prints N distinct names with no
 * such property, for the same run as a baseline.
 *
 * The search is brute force: a name is a base-64 counter, the FNV state of
 * the fixed prefix is computed once, and only the last bytes vary in the
 * inner loop, so each candidate costs a few multiplies; N keys of BITS bits
 * cost about N * 2^BITS candidates (16,000 keys of 14 bits: ~0.3 s).
 * Against today's keyed hash (SipHash with a per-process random seed) the
 * same names are no worse than random ones, which t_sec_hash.sh checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEN 8

static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

static uint64_t fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * 1099511628211ULL;
}

static uint64_t avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fnv_collide N BITS [random]\n");
        return 2;
    }
    long n = atol(argv[1]);
    int bits = atoi(argv[2]);
    int random_names = argc > 3 && strcmp(argv[3], "random") == 0;
    uint64_t mask = bits >= 64 ? ~0ULL : ((1ULL << bits) - 1);
    unsigned char prefix[5] = {'s', LEN, 0, 0, 0};
    uint64_t h0 = 1469598103934665603ULL;
    for (int i = 0; i < 5; i++)
        h0 = fnv_step(h0, prefix[i]);

    char name[LEN + 1];
    name[LEN] = '\0';
    uint64_t target = 0;
    int have_target = 0;
    long found = 0;
    /* name = alpha digits of counter c (6 high chars) + 2 inner chars */
    for (uint64_t c = 0; found < n; c++) {
        uint64_t h = h0, x = c;
        for (int i = 0; i < LEN - 2; i++) {
            name[i] = alpha[x % 64];
            x /= 64;
            h = fnv_step(h, (unsigned char)name[i]);
        }
        for (int a = 0; a < 64 && found < n; a++) {
            uint64_t ha = fnv_step(h, (unsigned char)alpha[a]);
            for (int b = 0; b < 64 && found < n; b++) {
                uint64_t hb = avalanche(fnv_step(ha, (unsigned char)alpha[b]));
                if (random_names) {
                    /* every 97th name: distinct, with no bucket property */
                    if (((c * 64 + (uint64_t)a) * 64 + (uint64_t)b) % 97 != 0)
                        continue;
                } else {
                    if (!have_target) {
                        target = hb & mask;
                        have_target = 1;
                    }
                    if ((hb & mask) != target)
                        continue;
                }
                name[LEN - 2] = alpha[a];
                name[LEN - 1] = alpha[b];
                puts(name);
                found++;
            }
        }
    }
    return 0;
}
