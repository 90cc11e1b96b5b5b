/*
 * hold.c -- answers held back until the standby holds what they answer
 * (hold.h).
 */
#include "hold.h"

#include "err.h"

#include <stdlib.h>
#include <string.h>

struct srv_hold {
    srv_held_t *q; /* ring of cap entries */
    size_t cap, head, n;
};

int
srv_hold_new(srv_hold_t **self)
{
    *self = calloc(1, sizeof **self);
    return *self ? 0 : JP_ENOMEM;
}

void
srv_hold_free(srv_hold_t **self)
{
    srv_hold_t *h = *self;
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        free(h->q[(h->head + i) % h->cap].body);
    free(h->q);
    free(h);
    *self = NULL;
}

static int
s_grow(srv_hold_t *h)
{
    size_t cap = h->cap ? h->cap * 2 : 64;
    srv_held_t *q = malloc(cap * sizeof *q);
    if (!q)
        return JP_ENOMEM;
    for (size_t i = 0; i < h->n; i++)
        q[i] = h->q[(h->head + i) % h->cap];
    free(h->q);
    h->q = q;
    h->cap = cap;
    h->head = 0;
    return 0;
}

int
srv_hold_put(srv_hold_t *h, const void *rid, size_t rid_n, const void *body, size_t n,
             uint64_t need, uint64_t now_ms, size_t cap)
{
    if (h->n >= cap)
        return JP_EFULL;
    if (rid_n > sizeof h->q[0].rid)
        return JP_EINVAL;
    if (h->n == h->cap && s_grow(h))
        return JP_ENOMEM;
    srv_held_t *e = &h->q[(h->head + h->n) % h->cap];
    if (!(e->body = malloc(n ? n : 1)))
        return JP_ENOMEM;
    memcpy(e->body, body, n);
    e->n = n;
    memcpy(e->rid, rid, rid_n);
    e->rid_n = rid_n;
    e->need = need;
    e->at_ms = now_ms;
    h->n++;
    return 0;
}

uint64_t
srv_hold_oldest_ms(const srv_hold_t *h)
{
    return h->n ? h->q[h->head].at_ms : 0;
}

bool
srv_hold_take(srv_hold_t *h, uint64_t acked, bool all, srv_held_t *out)
{
    if (!h->n || (!all && h->q[h->head].need > acked))
        return false;
    *out = h->q[h->head];
    h->head = (h->head + 1) % h->cap;
    h->n--;
    return true;
}

void
srv_held_done(srv_held_t *e)
{
    free(e->body);
    e->body = NULL;
}
