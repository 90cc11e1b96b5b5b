/*
 * buf.h -- a growable byte buffer, the one output type of the encoders.
 */
#ifndef JP_BUF_H
#define JP_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
} jp_buf_t;

/* Append n bytes; JP_ENOMEM on failure (the buffer is unchanged). */
int jp_buf_append(jp_buf_t *b, const void *p, size_t n);

/* Forget the contents, keep the allocation. */
static inline void
jp_buf_reset(jp_buf_t *b)
{
    b->len = 0;
}

/* Free the allocation; the buffer is empty and reusable. */
void jp_buf_free(jp_buf_t *b);

#endif
