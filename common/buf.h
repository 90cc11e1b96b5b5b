/*
 * buf.h -- a growable byte buffer, the one output type of the encoders.
 */
#ifndef JP_BUF_H
#define JP_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
} jp_buf_t;

/* Grow to hold n more bytes, then append them (the slow path). */
int jp_buf_append_grow(jp_buf_t *b, const void *p, size_t n);

/* Append n bytes; JP_ENOMEM on failure (the buffer is unchanged).  Inline:
 * the encoders append a few bytes at a time. */
static inline int
jp_buf_append(jp_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap)
        return jp_buf_append_grow(b, p, n);
    if (n < 32) /* most appends: a call to memcpy would cost more */
        for (size_t i = 0; i < n; i++)
            b->data[b->len + i] = ((const uint8_t *)p)[i];
    else
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Forget the contents, keep the allocation. */
static inline void
jp_buf_reset(jp_buf_t *b)
{
    b->len = 0;
}

/* Free the allocation; the buffer is empty and reusable. */
void jp_buf_free(jp_buf_t *b);

/* Big-endian numbers: the byte order of every key and fixed layout (keys
 * then sort in numeric order). */
static inline void
jp_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint16_t
jp_be16_get(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
jp_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint64_t
jp_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
