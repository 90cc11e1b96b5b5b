/*
 * bench_audit.c -- jipan-bench-audit: verify and replay of an export of N
 * changes, against SHA-256 of the same bytes (OpenSSL EVP) in the same run.
 *
 * The export is written directly (export.h): S stores each writing their
 * own hash-chained log of customer creates and later renames, signed in
 * batches of B changes with each store's Ed25519 key, every batch
 * receipted by a server key, interleaved in one group log.  Then:
 *
 *   verify   jp_audit_verify over the file (read, chains, every signature)
 *   sha256   EVP SHA-256 over the file's bytes, read the same way
 *   replay   jp_audit_replay of every change into a fresh LMDB
 *
 * The END record publishes no state digest (nothing here computed one
 * before the replay), so verify reports no digest; everything else is
 * checked as for a real export.
 */
#include "audit.h"
#include "codec.h"
#include "export.h"
#include "record.h"

#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_RING 1024 /* recent customers per store, for renames */

typedef struct {
    jp_key_t *key;
    uint8_t pub[JP_PUB_LEN];
    jp_idgen_t gen;
    uint64_t seq;
    uint8_t head[JP_HASH_LEN];
    uint64_t first; /* first seq of the open batch */
    jp_hlc_t hlc;
    jp_id_t ring[S_RING];
    uint64_t made;
} s_store_t;

static double
s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void
s_die(const char *what, int rc, const jp_err_t *err)
{
    fprintf(stderr, "jipan-bench-audit: %s: %s\n", what,
            err && err->msg[0] ? err->msg : jp_strerror(rc));
    exit(3);
}

static void
s_rm(const char *dir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {{"changes", required_argument, NULL, 'n'},
                                       {"stores", required_argument, NULL, 's'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0}};
    uint64_t n = 10000000, nstores = 20, batch = 1000;
    const char *dir = "/tmp";
    int o;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case 'n':
            n = strtoull(optarg, NULL, 10);
            break;
        case 's':
            nstores = strtoull(optarg, NULL, 10);
            break;
        case 'b':
            batch = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            dir = optarg;
            break;
        default:
            printf("usage: jipan-bench-audit [--changes N (10000000)] [--stores S (20)]\n"
                   "                         [--batch B (1000)] [--dir DIR (/tmp)]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (n == 0 || nstores == 0 || nstores > 1000 || batch == 0)
        return 2;
    char file[1100], dbdir[1100];
    snprintf(file, sizeof file, "%s/jipan-bench-audit.%d.jpx", dir, (int)getpid());
    snprintf(dbdir, sizeof dbdir, "%s/jipan-bench-audit.%d.db", dir, (int)getpid());
    jp_err_t err = {0};
    jp_key_t *server = NULL;
    int rc;
    if ((rc = jp_key_generate(&server, &err)))
        s_die("key", rc, &err);
    s_store_t *st = calloc(nstores + 1, sizeof *st);
    if (!st)
        return 3;
    uint64_t base_ms = jp_now_ms() - 86400000ull * 30;
    jp_xhdr_t h = {.kind = JP_XK_GROUP, .from = 1, .to = n, .ms = jp_now_ms()};
    snprintf(h.group, sizeof h.group, "bench");
    snprintf(h.tz, sizeof h.tz, "Asia/Shanghai");
    jp_xw_t *w = NULL;
    if ((rc = jp_xw_open(&w, file, &h, &err)))
        s_die("export", rc, &err);
    uint8_t spub[JP_PUB_LEN];
    jp_key_public(server, spub);
    jp_xw_key(w, 0, spub);
    for (uint64_t s = 1; s <= nstores; s++) {
        if ((rc = jp_key_generate(&st[s].key, &err)))
            s_die("key", rc, &err);
        jp_key_public(st[s].key, st[s].pub);
        jp_idgen_init(&st[s].gen, (uint16_t)s);
        jp_xw_key(w, (uint16_t)s, st[s].pub);
        st[s].first = 1;
        st[s].hlc = (jp_hlc_t)base_ms << 16;
    }

    /* Write: stores take turns a batch at a time, as syncs arrive. */
    double t0 = s_now();
    jp_buf_t buf = {0};
    jp_change_t ch;
    char name[32], ext[32];
    uint64_t pos = 0, bytes = 0;
    uint64_t s = 1;
    while (pos < n) {
        s_store_t *x = &st[s];
        uint64_t k = batch < n - pos ? batch : n - pos;
        for (uint64_t i = 0; i < k; i++) {
            memset(&ch, 0, sizeof ch);
            x->seq++;
            x->hlc += 1u << 16;
            uint64_t ms = jp_hlc_ms(x->hlc);
            bool rename = x->made >= 16 && x->seq % 5 == 0;
            int nl = snprintf(name, sizeof name, "客户%llu", (unsigned long long)x->seq);
            if (rename) {
                ch.id = x->ring[(x->seq * 7919) % (x->made < S_RING ? x->made : S_RING)];
            } else {
                ch.id = jp_id_next(&x->gen, ms);
                x->ring[x->made++ % S_RING] = ch.id;
                int el = snprintf(ext, sizeof ext, "E%llu", (unsigned long long)x->seq);
                jp_change_set_str(&ch, JP_F_EXT_ID, ext, (size_t)el);
                jp_change_set_int(&ch, JP_F_CREATED_AT, (int64_t)ms);
            }
            jp_change_set_str(&ch, JP_F_NAME, name, (size_t)nl);
            ch.store = (uint16_t)s;
            ch.seq = x->seq;
            ch.hlc = x->hlc;
            ch.kind = JP_K_CUSTOMER;
            ch.author = "bench";
            ch.author_len = 5;
            memcpy(ch.prev, x->head, JP_HASH_LEN);
            jp_buf_reset(&buf);
            if ((rc = jp_change_encode(&ch, &buf)))
                s_die("encode", rc, NULL);
            jp_sha256(buf.data, buf.len, x->head);
            if ((rc = jp_xw_entry(w, ++pos, (uint16_t)s, x->seq, buf.data, buf.len)))
                s_die("write", rc, NULL);
            bytes += buf.len;
        }
        uint8_t msg[JP_BATCH_MSG_LEN], sig[JP_SIG_LEN];
        uint64_t accepted = jp_hlc_ms(x->hlc) + 1;
        jp_batch_msg((uint16_t)s, x->first, x->seq, x->head, msg);
        jp_key_sign(x->key, msg, sizeof msg, sig);
        jp_xw_batch(w, (uint16_t)s, x->first, x->seq, accepted, x->pub, sig);
        jp_receipt_msg((uint16_t)s, x->seq, accepted, x->head, msg);
        jp_key_sign(server, msg, sizeof msg, sig);
        if ((rc = jp_xw_receipt(w, (uint16_t)s, x->seq, accepted, sig)))
            s_die("write", rc, NULL);
        x->first = x->seq + 1;
        s = s % nstores + 1;
    }
    if ((rc = jp_xw_end(w, n, NULL, server, &err)))
        s_die("export", rc, &err);
    jp_xw_close(&w);
    double t_write = s_now() - t0;

    /* Verify. */
    jp_averify_t v;
    t0 = s_now();
    if ((rc = jp_audit_verify(file, NULL, &v, &err)))
        s_die("verify", rc, &err);
    double t_verify = s_now() - t0;
    if (v.nfaults)
        fprintf(stderr, "verify found a fault: %s\n", v.first.what);

    /* SHA-256 of the same bytes, read the same way. */
    t0 = s_now();
    FILE *f = fopen(file, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *chunk = malloc(4u << 20), dg[EVP_MAX_MD_SIZE];
    unsigned dn;
    size_t got;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    while (f && chunk && (got = fread(chunk, 1, 4u << 20, f)) > 0)
        EVP_DigestUpdate(md, chunk, got);
    EVP_DigestFinal_ex(md, dg, &dn);
    double t_sha = s_now() - t0;
    if (f)
        fclose(f);
    free(chunk);
    EVP_MD_CTX_free(md);

    /* Replay. */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dbdir);
    if (system(cmd) != 0)
        return 3;
    jp_db_t *db = NULL;
    jp_areplay_t r;
    jp_areplay_opts_t ro = {.at_pos = n};
    t0 = s_now();
    if ((rc = jp_db_open(&db, dbdir, 0, &err)) ||
        (rc = jp_audit_replay(file, db, &ro, &r, &err)))
        s_die("replay", rc, &err);
    double t_replay = s_now() - t0;
    uint64_t used = 0, map = 0;
    jp_db_size(db, &used, &map);
    jp_db_close(&db);
    s_rm(dbdir);
    unlink(file);

    char hex[2 * JP_HASH_LEN + 1];
    jp_hex(r.digest, JP_HASH_LEN, hex);
    printf("changes          %llu of %llu stores, batches of %llu; %.1f MiB file, %llu "
           "bytes "
           "per change\n",
           (unsigned long long)n, (unsigned long long)nstores, (unsigned long long)batch,
           v.bytes / 1048576.0, (unsigned long long)(bytes / n));
    printf("write export     %.2f s\n", t_write);
    printf(
        "verify           %.2f s   %10.0f changes/s   %s (%llu batches, %llu receipts)\n",
        t_verify, n / t_verify, v.nfaults ? "FAILED" : "verified",
        (unsigned long long)v.batches, (unsigned long long)v.receipts);
    printf(
        "sha256 (EVP)     %.2f s   %10.0f changes/s   %.0f MiB/s over the same bytes\n",
        t_sha, n / t_sha, v.bytes / 1048576.0 / t_sha);
    printf("verify / sha256  %.2fx the time of hashing alone\n", t_verify / t_sha);
    printf("replay           %.2f s   %10.0f changes/s   %llu applied, %.0f MiB LMDB, "
           "digest "
           "%.16s...\n",
           t_replay, r.applied / t_replay, (unsigned long long)r.applied,
           used / 1048576.0, hex);
    for (uint64_t i = 1; i <= nstores; i++)
        jp_key_destroy(&st[i].key);
    jp_key_destroy(&server);
    free(st);
    jp_buf_free(&buf);
    return v.nfaults ? 1 : 0;
}
