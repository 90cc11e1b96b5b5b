/*
 * seeds.c -- jipan-fuzz-seeds: the seed corpora of fuzz_codec and
 * fuzz_msg, written from a real export file (fuzz/make-corpus.sh makes
 * one with the real programs).
 *
 *     jipan-fuzz-seeds EXPORT OUTDIR
 *
 * writes OUTDIR/codec/ (the first change of each kind and a few more, and
 * the states those changes merge into, as jp_record_encode writes them)
 * and OUTDIR/msg/ (one message of every type, by jp_msg_encode: a PUSH of
 * the export's first batch with its real signature, a CHANGES of its first
 * entries, a RECEIPT with a real receipt signature...).  Seeds start the
 * fuzzer inside the formats instead of at random bytes.
 */
#include "codec.h"
#include "export.h"
#include "msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAX_ENTRIES 64 /* entries kept from the export */
#define S_MAX_RECS 16    /* record states written */

typedef struct {
    uint16_t store; /* the entry's store */
    uint64_t seq;   /* its seq */
    uint8_t *p;     /* the change's bytes (malloc) */
    size_t n;       /* bytes */
    jp_change_t ch; /* decoded; borrows p */
} s_entry_t;

static int
s_write(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
        fprintf(stderr, "jipan-fuzz-seeds: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int
s_msg(const char *dir, const char *name, const jp_msg_t *m)
{
    jp_buf_t b = {0};
    int rc = jp_msg_encode(m, &b);
    if (rc) {
        fprintf(stderr, "jipan-fuzz-seeds: %s: encode: %s\n", name, jp_strerror(rc));
        return -1;
    }
    rc = s_write(dir, name, b.data, b.len);
    jp_buf_free(&b);
    return rc;
}

static jp_msg_str_t
s_str(const char *s)
{
    return (jp_msg_str_t){s, strlen(s)};
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: jipan-fuzz-seeds EXPORT OUTDIR\n");
        return 2;
    }
    char codec[480], msg[480];
    snprintf(codec, sizeof codec, "%s/codec", argv[2]);
    snprintf(msg, sizeof msg, "%s/msg", argv[2]);
    mkdir(argv[2], 0755);
    mkdir(codec, 0755);
    mkdir(msg, 0755);

    static s_entry_t e[S_MAX_ENTRIES];
    size_t ne = 0;
    jp_xrec_t rec, batch = {0}, receipt = {0};
    uint8_t server_pub[JP_PUB_LEN] = {0};
    jp_err_t err = {0};
    jp_xr_t *r = NULL;
    int rc = jp_xr_open(&r, argv[1], &err);
    bool have_batch = false, have_receipt = false, kinds[JP_K_COUNT] = {false};
    while (rc == 0 && (rc = jp_xr_next(r, &rec, &err)) == 1) {
        rc = 0;
        if (rec.type == JP_XR_KEY && rec.u.key.store == 0)
            memcpy(server_pub, rec.u.key.pub, JP_PUB_LEN);
        if (rec.type == JP_XR_BATCH && !have_batch) {
            batch = rec;
            have_batch = true;
        }
        if (rec.type == JP_XR_RECEIPT && !have_receipt) {
            receipt = rec;
            have_receipt = true;
        }
        if (rec.type != JP_XR_ENTRY || ne == S_MAX_ENTRIES)
            continue;
        s_entry_t *x = &e[ne];
        x->store = rec.u.entry.store;
        x->seq = rec.u.entry.seq;
        x->n = rec.u.entry.n;
        if (!(x->p = malloc(x->n))) {
            rc = JP_ENOMEM;
            break;
        }
        memcpy(x->p, rec.u.entry.p, x->n);
        if ((rc = jp_change_decode(x->p, x->n, &x->ch, &err)))
            break;
        ne++;
    }
    jp_xr_close(&r);
    if (rc < 0 || ne == 0) {
        fprintf(stderr, "jipan-fuzz-seeds: %s: %s\n", argv[1],
                rc < 0 ? err.msg : "no entries");
        return 1;
    }

    /* codec: the first change of each kind, the first eight of the log,
     * and the state of each record they write. */
    char name[64];
    static jp_record_t recs[S_MAX_RECS];
    size_t nr = 0;
    for (size_t i = 0; i < ne; i++) {
        const jp_change_t *ch = &e[i].ch;
        if (i < 8 || !kinds[ch->kind]) {
            kinds[ch->kind] = true;
            snprintf(name, sizeof name, "change-%02zu-%s", i, jp_kind_name(ch->kind));
            if (s_write(codec, name, e[i].p, e[i].n))
                return 1;
        }
        size_t k = 0;
        while (k < nr && memcmp(recs[k].id.b, ch->id.b, 16) != 0)
            k++;
        if (k == nr && nr < S_MAX_RECS)
            jp_record_init(&recs[nr++], &ch->id);
        if (k < nr)
            jp_merge(&recs[k], ch);
    }
    for (size_t k = 0; k < nr; k++) {
        jp_buf_t b = {0};
        if (jp_record_encode(&recs[k], &b))
            return 1;
        snprintf(name, sizeof name, "record-%02zu-%s", k, jp_kind_name(recs[k].kind));
        if (s_write(codec, name, b.data, b.len))
            return 1;
        jp_buf_free(&b);
    }

    /* msg: one of each type. */
    jp_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_HELLO;
    m.hello.min_version = 1;
    m.hello.max_version = 1;
    m.hello.store = e[0].store;
    m.hello.agent = s_str("jipan-store 0.1.0");
    if (s_msg(msg, "hello", &m))
        return 1;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_WELCOME;
    m.welcome.version = 1;
    memcpy(m.welcome.server_pub, server_pub, JP_PUB_LEN);
    m.welcome.acked_seq = 1;
    memcpy(m.welcome.acked_head, e[0].ch.prev, JP_HASH_LEN);
    m.welcome.group_pos = ne;
    m.welcome.server_ms = 1767225600000ull;
    m.welcome.credit = 4;
    m.welcome.max_batch = JP_MSG_MAX_BATCH;
    if (s_msg(msg, "welcome", &m))
        return 1;

    /* PUSH: the export's first batch, as its store sent it. */
    jp_buf_t b = {0};
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_PUSH;
    m.push.batch = 1;
    m.push.store = have_batch ? batch.u.batch.store : e[0].store;
    m.push.first_seq = have_batch ? batch.u.batch.first : e[0].seq;
    m.push.last_seq = have_batch ? batch.u.batch.last : e[0].seq;
    if (have_batch)
        memcpy(m.push.sig, batch.u.batch.sig, JP_SIG_LEN);
    uint32_t count = 0;
    for (size_t i = 0; i < ne; i++)
        count += e[i].store == m.push.store && e[i].seq >= m.push.first_seq &&
                 e[i].seq <= m.push.last_seq;
    jp_msg_builder_t bl;
    jp_msg_begin(&bl, &b, &m, count);
    for (size_t i = 0; i < ne; i++)
        if (e[i].store == m.push.store && e[i].seq >= m.push.first_seq &&
            e[i].seq <= m.push.last_seq)
            jp_msg_add_change(&bl, e[i].p, e[i].n);
    if ((rc = jp_msg_end(&bl, &m)) || s_write(msg, "push", b.data, b.len)) {
        fprintf(stderr, "jipan-fuzz-seeds: push: %s\n", jp_strerror(rc));
        return 1;
    }
    jp_buf_free(&b);

    memset(&m, 0, sizeof m);
    m.type = JP_MSG_RECEIPT;
    m.receipt.batch = 1;
    m.receipt.store = have_receipt ? receipt.u.receipt.store : e[0].store;
    m.receipt.seq = have_receipt ? receipt.u.receipt.seq : e[0].seq;
    m.receipt.server_ms = have_receipt ? receipt.u.receipt.ms : 1767225600000ull;
    if (have_receipt)
        memcpy(m.receipt.sig, receipt.u.receipt.sig, JP_SIG_LEN);
    if (s_msg(msg, "receipt", &m))
        return 1;

    memset(&m, 0, sizeof m);
    m.type = JP_MSG_PULL;
    m.pull.after_pos = 3;
    m.pull.credit = 2;
    m.pull.own = true;
    if (s_msg(msg, "pull", &m))
        return 1;

    /* CHANGES: the first entries of the log. */
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_CHANGES;
    m.changes.from_pos = 1;
    m.changes.to_pos = ne < 8 ? ne : 8;
    m.changes.more = ne > 8;
    jp_msg_begin(&bl, &b, &m, (uint32_t)m.changes.to_pos);
    for (size_t i = 0; i < m.changes.to_pos; i++)
        jp_msg_add_entry(&bl, e[i].store, i + 1, e[i].p, e[i].n);
    m.changes.view_count = m.changes.more ? 0 : 3;
    if ((rc = jp_msg_end(&bl, &m)) || s_write(msg, "changes", b.data, b.len)) {
        fprintf(stderr, "jipan-fuzz-seeds: changes: %s\n", jp_strerror(rc));
        return 1;
    }
    jp_buf_free(&b);

    /* The view: VIEW, VIEWIDS of three ids, FETCH of two, RECORDS. */
    uint8_t ids[48];
    for (size_t i = 0; i < sizeof ids; i++)
        ids[i] = (uint8_t)(i * 37 + 1);
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_VIEW;
    if (s_msg(msg, "view", &m))
        return 1;
    m.type = JP_MSG_VIEWIDS;
    m.viewids.ids = (jp_msg_str_t){(const char *)ids, 48};
    m.viewids.view_pos = ne;
    if (s_msg(msg, "viewids", &m))
        return 1;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_FETCH;
    m.fetch.ids = (jp_msg_str_t){(const char *)ids, 32};
    if (s_msg(msg, "fetch", &m))
        return 1;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_RECORDS;
    jp_msg_begin(&bl, &b, &m, ne < 2 ? (uint32_t)ne : 2);
    for (size_t i = 0; i < ne && i < 2; i++)
        jp_msg_add_entry(&bl, e[i].store, i + 1, e[i].p, e[i].n);
    if ((rc = jp_msg_end(&bl, &m)) || s_write(msg, "records", b.data, b.len)) {
        fprintf(stderr, "jipan-fuzz-seeds: records: %s\n", jp_strerror(rc));
        return 1;
    }
    jp_buf_free(&b);

    memset(&m, 0, sizeof m);
    m.type = JP_MSG_CREDIT;
    m.credit.credit = 4;
    if (s_msg(msg, "credit", &m))
        return 1;
    m.type = JP_MSG_PING;
    m.ping.ms = 1767225600123ull;
    if (s_msg(msg, "ping", &m))
        return 1;
    m.type = JP_MSG_PONG;
    m.pong.ms = 1767225600123ull;
    if (s_msg(msg, "pong", &m))
        return 1;

    memset(&m, 0, sizeof m);
    m.type = JP_MSG_QUERY;
    m.query.id = 7;
    m.query.what = s_str("report");
    m.query.args.n = 3;
    m.query.args.v[0].key = s_str("scope");
    m.query.args.v[0].val = s_str("region:惠州");
    m.query.args.v[1].key = s_str("as_of");
    m.query.args.v[1].val = s_str("2026-06-30");
    m.query.args.v[2].key = s_str("format");
    m.query.args.v[2].val = s_str("json");
    if (s_msg(msg, "query", &m))
        return 1;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_ANSWER;
    m.answer.id = 7;
    m.answer.body = s_str("{\"schema\":\"jipan.stats/1\",\"customers\":{\"n\":3}}");
    if (s_msg(msg, "answer", &m))
        return 1;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_BYE;
    m.bye.reason = s_str("done");
    if (s_msg(msg, "bye", &m))
        return 1;
    memset(&m, 0, sizeof m);
    m.type = JP_MSG_ERROR;
    m.error.code = JP_PERR_CHAIN;
    m.error.ref = 1;
    m.error.message = s_str("store 1: seq 5 does not follow 3");
    if (s_msg(msg, "error", &m))
        return 1;

    for (size_t i = 0; i < ne; i++)
        free(e[i].p);
    printf("jipan-fuzz-seeds: %zu changes read; seeds in %s and %s\n", ne, codec, msg);
    return 0;
}
