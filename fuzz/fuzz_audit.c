/*
 * fuzz_audit.c -- what the auditor runs over an export file
 * (jp_audit_verify and jp_audit_history in common/audit.c), on a file
 * holding the input; its seeds are fuzz_export's.
 *
 * Verify must read any file without a crash, return 0 and count what is
 * wrong, each fault in words; history follows the record of the file's
 * first decodable entry.  The file lives in /dev/shm when there is one.
 */
#include "audit.h"
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
    s_path = fuzz_file_init("audit");
    return 0;
}

static int
s_hist(void *arg, const jp_ahist_t *h)
{
    (void)h;
    (*(unsigned *)arg)++;
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
    jp_id_t first = {{0}};
    bool have_first = false;
    while (!have_first && jp_xr_next(r, &rec, &err) == 1) {
        jp_change_t ch;
        if (rec.type == JP_XR_ENTRY &&
            jp_change_decode(rec.u.entry.p, rec.u.entry.n, &ch, &err) == 0) {
            first = ch.id;
            have_first = true;
        }
    }
    jp_xr_close(&r);

    jp_averify_opts_t o = {0};
    jp_averify_t v;
    memset(&err, 0, sizeof err);
    rc = jp_audit_verify(s_path, &o, &v, &err);
    FUZZ_CHECK(rc == 0, "verify returned %d: %s", rc, err.msg);
    FUZZ_CHECK(v.nfaults == 0 || v.first.what[0], "a fault without words");

    if (have_first) {
        unsigned seen = 0;
        uint64_t count = 0;
        memset(&err, 0, sizeof err);
        rc = jp_audit_history(s_path, &first, s_hist, &seen, &count, &err);
        FUZZ_CHECK(rc == 0 || err.msg[0], "history refused (%d) without a message", rc);
        FUZZ_CHECK(rc != 0 || count == seen, "history counted %llu, called back %u",
                   (unsigned long long)count, seen);
    }
    return 0;
}
