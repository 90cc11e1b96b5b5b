/*
 * id.h -- record ids, the hybrid logical clock, and time helpers.
 *
 * A record id is 128 bits, big-endian, time-ordered so that new records
 * append at the right edge of LMDB's B-trees:
 *
 *     bytes 0..5   creation time, unix milliseconds (48 bits)
 *     bytes 6..7   store number that created it (0 = the group server)
 *     bytes 8..15  per-generator counter, random start (64 bits)
 *
 * Its text form is 26 characters of Crockford base32 (0-9, A-Z without
 * I, L, O, U); parsing is case-insensitive and reads I/L as 1 and O as 0.
 *
 * An hlc is (physical ms << 16) | logical counter.  It orders every change of
 * the group even when store clocks disagree by minutes; a remote hlc more than
 * JP_HLC_MAX_SKEW_MS ahead of the local clock is refused.
 */
#ifndef JP_ID_H
#define JP_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_ID_TEXT_LEN 26          /* characters, without the NUL */
#define JP_HLC_MAX_SKEW_MS 300000u /* 5 minutes */

typedef struct {
    uint8_t b[16]; /* big-endian: ms48 | store16 | counter64 */
} jp_id_t;

/* Generator of ids for one store; not thread-safe (one per writer). */
typedef struct {
    uint16_t store;   /* store number stamped into every id */
    uint64_t last_ms; /* ms of the last id, to stay monotonic */
    uint64_t counter; /* low 64 bits of the last id */
} jp_idgen_t;

typedef uint64_t jp_hlc_t; /* (ms << 16) | logical */

/* Start a generator for store; the counter starts at a random value. */
void jp_idgen_init(jp_idgen_t *g, uint16_t store);

/* Next id at wall time now_ms; strictly greater than the previous one. */
jp_id_t jp_id_next(jp_idgen_t *g, uint64_t now_ms);

int jp_id_cmp(const jp_id_t *a, const jp_id_t *b);

/* Index of id in n elements of size bytes from base, each starting with
 * its id, sorted by id (a binary search); UINT32_MAX if absent. */
uint32_t jp_id_find(const void *base, size_t n, size_t size, const jp_id_t *id);
bool jp_id_is_zero(const jp_id_t *a);
uint64_t jp_id_ms(const jp_id_t *a);
uint16_t jp_id_store(const jp_id_t *a);

/* Write the 26-character text form and a NUL into out[27]. */
void jp_id_format(const jp_id_t *a, char out[JP_ID_TEXT_LEN + 1]);

/* Parse exactly 26 base32 characters; JP_EINVAL otherwise. */
int jp_id_parse(const char *s, jp_id_t *out);

/* Wall clock, unix milliseconds. */
uint64_t jp_now_ms(void);

/* The hlc for a local event: greater than *last and than now_ms<<16.
 * Updates *last. */
jp_hlc_t jp_hlc_tick(jp_hlc_t *last, uint64_t now_ms);

/* Take in a remote hlc: JP_EFUTURE if its physical part is more than
 * JP_HLC_MAX_SKEW_MS ahead of now_ms, else *last = max(*last, remote), 0. */
int jp_hlc_observe(jp_hlc_t *last, jp_hlc_t remote, uint64_t now_ms);

static inline uint64_t
jp_hlc_ms(jp_hlc_t h)
{
    return h >> 16;
}

#endif
