/*
 * cmd_export.c -- `jipan-store export`: this store's own log, signed, with
 * the server's receipts it holds, as an export file (docs/EXPORT.md).
 *
 * The auditor checks it against the group's export: a store's log and the
 * server's signed receipts prove what the server accepted, so an entry the
 * server dropped or invented shows.  The store signs its whole log once at
 * export time (one batch, jp_batch_msg over seq 1..head), and END carries
 * its state digest and head, signed by its key.
 */
#include "store.h"

#include "export.h"

#include <stdlib.h>
#include <string.h>

static const char s_export_usage[] =
    "usage: " CLI_PROG " export -o FILE\n"
    "\n"
    "Write this store's own change log (seq 1 to its head), signed with the\n"
    "store's key, with the receipts the group server signed for it and the\n"
    "server key pinned at the first sync, to FILE (which must not exist).  An\n"
    "auditor checks it against the group's export with\n"
    "`jipan-audit verify GROUP-FILE --store-export FILE`.  Format:\n"
    "docs/EXPORT.md.  Exit: 0 written, 1 refused, 2 usage, 3 I/O.\n"
    "\n"
    "  -o, --output FILE   the export\n";

int
cmd_export(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_STD_LONGOPTS, {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int o, ec = CLI_CONTINUE;
    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT "o:", opts, NULL)) != -1) {
        if (o == 'o')
            out = optarg;
        else
            ec = cli_std_opt(c, o, argv, s_export_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (!out || optind != argc)
        return cli_usage_error(c, "give -o FILE and no other argument");
    if ((ec = cli_open(c)))
        return ec;

    jp_err_t err = {0};
    jp_txn_t *txn = NULL;
    jp_key_t *key = NULL;
    jp_xw_t *w = NULL;
    jp_head_t head;
    char path[1024];
    uint8_t pub[JP_PUB_LEN], digest[JP_HASH_LEN];
    uint16_t store = c->node.store;
    uint64_t receipts = 0;
    int rc;
    cli_path(c, CLI_KEY_FILE, path, sizeof path);
    if ((rc = jp_key_load(&key, path, &err)))
        goto fail;
    jp_key_public(key, pub);
    if ((rc = jp_db_begin(c->db, false, &txn, &err)) ||
        (rc = jp_txn_head(txn, store, &head)) || (rc = jp_txn_digest(txn, digest)))
        goto fail;
    jp_xhdr_t h = {.kind = JP_XK_STORE,
                   .store = store,
                   .from = 1,
                   .to = head.seq,
                   .ms = jp_now_ms()};
    snprintf(h.group, sizeof h.group, "%.*s", JP_EXPORT_MAX_TEXT, c->node.group);
    snprintf(h.tz, sizeof h.tz, "%.*s", JP_EXPORT_MAX_TEXT, c->node.tz);
    if ((rc = jp_xw_open(&w, out, &h, &err)))
        goto fail;
    const void *v;
    size_t vn;
    rc = jp_txn_tb_get(txn, JP_TB_SYNC, "receipt_key", 11, &v, &vn);
    if (rc == 0 && vn == JP_PUB_LEN)
        rc = jp_xw_key(w, 0, v);
    else if (rc == JP_ENOTFOUND)
        rc = 0; /* never synced: no server key, no receipts */
    if (rc || (rc = jp_xw_key(w, store, pub)))
        goto fail;
    for (uint64_t seq = 1; seq <= head.seq; seq++) {
        const uint8_t *p;
        size_t n;
        uint8_t k[10];
        if ((rc = jp_txn_log_get(txn, store, seq, &p, &n))) {
            jp_err_set(&err, rc, "seq %llu of the log unreadable",
                       (unsigned long long)seq);
            goto fail;
        }
        if ((rc = jp_xw_entry(w, seq, store, seq, p, n)))
            goto fail;
        if (seq == head.seq) {
            /* One signature over the whole log, made now. */
            uint8_t msg[JP_BATCH_MSG_LEN], sig[JP_SIG_LEN];
            jp_batch_msg(store, 1, head.seq, head.head, msg);
            if ((rc = jp_key_sign(key, msg, sizeof msg, sig)) ||
                (rc = jp_xw_batch(w, store, 1, head.seq, h.ms, pub, sig)))
                goto fail;
        }
        k[0] = (uint8_t)(store >> 8);
        k[1] = (uint8_t)store;
        for (int i = 0; i < 8; i++)
            k[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
        rc = jp_txn_tb_get(txn, JP_TB_RCPT, k, sizeof k, &v, &vn);
        if (rc == 0) {
            jp_receipt_t r;
            if ((rc = jp_receipt_decode(k, sizeof k, v, vn, &r)) ||
                (rc = jp_xw_receipt(w, store, seq, r.ms, r.sig)))
                goto fail;
            receipts++;
        } else if (rc != JP_ENOTFOUND) {
            goto fail;
        }
    }
    if ((rc = jp_xw_end(w, head.seq, digest, key, &err)))
        goto fail;
    char hex[2 * JP_HASH_LEN + 1];
    jp_hex(digest, sizeof digest, hex);
    printf("exported store %u's log, seq 1..%llu, with %llu server receipts, to %s\n"
           "state digest %s\n",
           store, (unsigned long long)head.seq, (unsigned long long)receipts, out, hex);
    ec = CLI_OK;
    goto done;
fail:
    ec = cli_fail_err(c, rc, &err);
done:
    jp_xw_close(&w);
    jp_txn_abort(&txn);
    jp_key_destroy(&key);
    cli_close(c);
    return ec;
}
