/*
 * id.c -- time-ordered ids, Crockford base32, the hybrid logical clock.
 */
#include "id.h"
#include "err.h"

#include <openssl/rand.h>
#include <string.h>
#include <time.h>

static const char s_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
jp_idgen_init(jp_idgen_t *g, uint16_t store)
{
    g->store = store;
    g->last_ms = 0;
    if (RAND_bytes((unsigned char *)&g->counter, sizeof g->counter) != 1)
        g->counter = (uint64_t)time(NULL) * 2654435761u;
    /* Leave room so that a burst never wraps within one millisecond. */
    g->counter >>= 1;
}

jp_id_t
jp_id_next(jp_idgen_t *g, uint64_t now_ms)
{
    if (now_ms > g->last_ms)
        g->last_ms = now_ms;
    g->counter++;
    if (g->counter == 0) /* wrapped: move time forward instead */
        g->last_ms++;

    jp_id_t id;
    uint64_t ms = g->last_ms & 0xffffffffffffull;
    for (int i = 0; i < 6; i++)
        id.b[i] = (uint8_t)(ms >> (40 - 8 * i));
    id.b[6] = (uint8_t)(g->store >> 8);
    id.b[7] = (uint8_t)g->store;
    for (int i = 0; i < 8; i++)
        id.b[8 + i] = (uint8_t)(g->counter >> (56 - 8 * i));
    return id;
}

int
jp_id_cmp(const jp_id_t *a, const jp_id_t *b)
{
    return memcmp(a->b, b->b, sizeof a->b);
}

uint32_t
jp_id_find(const void *base, size_t n, size_t size, const jp_id_t *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = jp_id_cmp((const jp_id_t *)((const char *)base + mid * size), id);
        if (c == 0)
            return (uint32_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UINT32_MAX;
}

bool
jp_id_is_zero(const jp_id_t *a)
{
    static const jp_id_t zero;
    return memcmp(a->b, zero.b, sizeof a->b) == 0;
}

uint64_t
jp_id_ms(const jp_id_t *a)
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | a->b[i];
    return ms;
}

uint16_t
jp_id_store(const jp_id_t *a)
{
    return (uint16_t)(a->b[6] << 8 | a->b[7]);
}

/* 128 bits as 26 groups of 5 bits, most significant first; the first
 * character carries only the top 3 bits (130 - 128 = 2 padding bits). */
void
jp_id_format(const jp_id_t *a, char out[JP_ID_TEXT_LEN + 1])
{
    for (int c = 0; c < JP_ID_TEXT_LEN; c++) {
        int bit = c * 5 - 2; /* first bit of this group, may be negative */
        unsigned v = 0;
        for (int k = 0; k < 5; k++, bit++) {
            v <<= 1;
            if (bit >= 0)
                v |= (a->b[bit / 8] >> (7 - bit % 8)) & 1;
        }
        out[c] = s_b32[v];
    }
    out[JP_ID_TEXT_LEN] = '\0';
}

static int
s_b32_value(char ch)
{
    if (ch >= 'a' && ch <= 'z')
        ch = (char)(ch - 'a' + 'A');
    if (ch == 'O')
        return 0;
    if (ch == 'I' || ch == 'L')
        return 1;
    const char *p = ch ? strchr(s_b32, ch) : NULL;
    return p ? (int)(p - s_b32) : -1;
}

int
jp_id_parse(const char *s, jp_id_t *out)
{
    if (!s || strlen(s) != JP_ID_TEXT_LEN)
        return JP_EINVAL;
    jp_id_t id;
    memset(&id, 0, sizeof id);
    for (int c = 0; c < JP_ID_TEXT_LEN; c++) {
        int v = s_b32_value(s[c]);
        if (v < 0)
            return JP_EINVAL;
        if (c == 0 && v > 7) /* would overflow 128 bits */
            return JP_EINVAL;
        int bit = c * 5 - 2;
        for (int k = 4; k >= 0; k--, bit++) {
            if (bit >= 0 && (v >> k & 1))
                id.b[bit / 8] |= (uint8_t)(1u << (7 - bit % 8));
        }
    }
    *out = id;
    return 0;
}

uint64_t
jp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

jp_hlc_t
jp_hlc_tick(jp_hlc_t *last, uint64_t now_ms)
{
    jp_hlc_t wall = (jp_hlc_t)now_ms << 16;
    jp_hlc_t next = wall > *last ? wall : *last + 1;
    *last = next;
    return next;
}

int
jp_hlc_observe(jp_hlc_t *last, jp_hlc_t remote, uint64_t now_ms)
{
    if (jp_hlc_ms(remote) > now_ms + JP_HLC_MAX_SKEW_MS)
        return JP_EFUTURE;
    if (remote > *last)
        *last = remote;
    return 0;
}
