/*
 * fuzz_export.c -- the export reader (common/export.c) on a file holding
 * the input: what jipan-audit reads first.
 *
 * The reader must end every file in a bounded number of records with 1s,
 * then 0 or one documented code and a message; an ENTRY's change is
 * peeked and decoded as verify does.  fuzz_audit.c runs the auditor's
 * verify and history over the same kind of input; they cost a scan of
 * every store number a run, so this harness keeps the reader fast.  The
 * file lives in /dev/shm when there is one: no disk per run.
 */
#include "codec.h"
#include "export.h"
#include "fuzz.h"

#include <string.h>

static const char *s_path;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_path = fuzz_file_init("export");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file_write(data, size);

    jp_err_t err = {0};
    jp_xr_t *r = NULL;
    int rc = jp_xr_open(&r, s_path, &err);
    FUZZ_CHECK(rc == 0, "open: %s", err.msg);
    jp_xrec_t rec;
    size_t records = 0;
    while ((rc = jp_xr_next(r, &rec, &err)) == 1) {
        records++;
        /* Every record takes at least two bytes: an array and its type. */
        FUZZ_CHECK(records <= size / 2, "%zu records from %zu bytes", records, size);
        FUZZ_CHECK(jp_xr_offset(r) <= size, "offset %llu past %zu bytes",
                   (unsigned long long)jp_xr_offset(r), size);
        if (rec.type != JP_XR_ENTRY)
            continue;
        FUZZ_CHECK(rec.u.entry.n <= JP_MAX_CHANGE, "entry of %zu bytes", rec.u.entry.n);
        jp_chead_t head;
        (void)jp_change_peek(rec.u.entry.p, rec.u.entry.n, &head);
        jp_change_t ch;
        jp_err_t cerr = {0};
        int crc = jp_change_decode(rec.u.entry.p, rec.u.entry.n, &ch, &cerr);
        FUZZ_CHECK(crc == 0 || cerr.msg[0], "change refused (%d) without a message", crc);
    }
    FUZZ_CHECK(rc == 0 || rc == JP_ECORRUPT || rc == JP_ETOOBIG || rc == JP_EVERSION,
               "reader returned %d", rc);
    FUZZ_CHECK(rc == 0 || err.msg[0], "reader refused (%d) without a message", rc);
    jp_xr_close(&r);

    return 0;
}
