/*
 * hold.h -- answers held back until the standby holds what they answer.
 *
 * With a synchronous standby (`sync_standby = on`, deploy/README.md) the
 * primary sends a store its RECEIPT only once the standby has committed
 * the batch: a receipt a store holds is then in the standby's log too, so
 * a failover loses no acknowledged change.  The merger's answers (its
 * RECEIPTs and ERRORs, in the order it made them) wait here, each with the
 * group log length it needs the standby to have (`need`: the length when
 * the answer was made, which covers its batch), and go out in that order
 * as the standby's acknowledgements come (serve.c), or all at once when
 * the standby does not acknowledge in time (the configured degradation).
 *
 * A FIFO of copies; main thread only.
 */
#ifndef SRV_HOLD_H
#define SRV_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct srv_hold srv_hold_t;

/* One held answer: the client's routing id and the frame to send. */
typedef struct {
    uint8_t rid[256];
    size_t rid_n;
    uint8_t *body; /* malloc'd: srv_held_done frees it */
    size_t n;
    uint64_t need;  /* group log length the standby must hold */
    uint64_t at_ms; /* when it was held */
} srv_held_t;

int srv_hold_new(srv_hold_t **self);  /* JP_ENOMEM */
void srv_hold_free(srv_hold_t **self); /* NULL-safe; drops what is held */

/* Hold a copy of body for rid.  JP_ENOMEM; JP_EFULL past `cap` answers
 * (then send it now: the standby is too far behind to wait for). */
int srv_hold_put(srv_hold_t *self, const void *rid, size_t rid_n, const void *body,
                 size_t n, uint64_t need, uint64_t now_ms, size_t cap);

/* When the oldest was held; 0 when none is. */
uint64_t srv_hold_oldest_ms(const srv_hold_t *self);

/* The oldest answer if the standby holds what it needs (need <= acked) or
 * all is true: moved into *out, true; else false. */
bool srv_hold_take(srv_hold_t *self, uint64_t acked, bool all, srv_held_t *out);
void srv_held_done(srv_held_t *h);

#endif
