/*
 * test_seal.c -- sealed personal fields and the keyring (seal.h,
 * keyring.h): a sealed value opens only under its key, for its record and
 * field, and unchanged; blind indexes are keyed; the keyring keeps keys
 * across processes and reopenings, and an erased key's bytes are gone
 * from the file; a rotation leaves an old copy of the keys file useless.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keyring.h"
#include "seal.h"

#include "lib/node.h"

static jp_id_t
s_id(uint8_t v)
{
    jp_id_t id;
    memset(id.b, v, sizeof id.b);
    return id;
}

static void
test_seal_round_trip(void **state)
{
    (void)state;
    uint8_t key[JP_SEAL_KEY_LEN], other[JP_SEAL_KEY_LEN];
    assert_int_equal(jp_seal_key_new(key), 0);
    assert_int_equal(jp_seal_key_new(other), 0);
    jp_id_t owner = s_id(1), rec = s_id(2), owner2;
    const char pt[] = "\xab"
                      "13800138000"; /* a fixstr of 11 bytes */
    uint8_t sealed[64], back[64];
    size_t n = 0, m = 0;
    jp_err_t err = {0};

    assert_int_equal(
        jp_seal(key, &owner, &rec, 3, pt, 12, sealed, 12 + JP_SEAL_OVERHEAD - 1, &n),
        JP_ETOOBIG);
    assert_int_equal(jp_seal(key, &owner, &rec, 3, pt, 12, sealed, sizeof sealed, &n), 0);
    assert_int_equal(n, 12 + JP_SEAL_OVERHEAD);
    assert_int_equal(sealed[0], JP_SEAL_VERSION);
    assert_null(memmem(sealed, n, "13800138000", 11));
    assert_int_equal(jp_seal_owner(sealed, n, &owner2), 0);
    assert_memory_equal(owner2.b, owner.b, 16);

    assert_int_equal(jp_unseal(key, &rec, 3, sealed, n, back, sizeof back, &m, &err), 0);
    assert_int_equal(m, 12);
    assert_memory_equal(back, pt, 12);

    /* Another key, another record, another field, a changed byte: refused. */
    jp_id_t rec2 = s_id(3);
    assert_int_equal(jp_unseal(other, &rec, 3, sealed, n, back, sizeof back, &m, &err),
                     JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "does not open"));
    assert_int_equal(jp_unseal(key, &rec2, 3, sealed, n, back, sizeof back, &m, &err),
                     JP_ECORRUPT);
    assert_int_equal(jp_unseal(key, &rec, 4, sealed, n, back, sizeof back, &m, &err),
                     JP_ECORRUPT);
    for (size_t i = 0; i < n; i++) {
        sealed[i] ^= 0x01;
        assert_int_not_equal(
            jp_unseal(key, &rec, 3, sealed, n, back, sizeof back, &m, &err), 0);
        sealed[i] ^= 0x01;
    }
    assert_int_equal(jp_unseal(key, &rec, 3, sealed, n - 1, back, sizeof back, &m, &err),
                     JP_ECORRUPT);
    assert_int_equal(jp_unseal(key, &rec, 3, sealed, 10, back, sizeof back, &m, &err),
                     JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "under the"));

    /* Two seals of one value differ (random nonces) and both open. */
    uint8_t again[64];
    size_t n2 = 0;
    assert_int_equal(jp_seal(key, &owner, &rec, 3, pt, 12, again, sizeof again, &n2), 0);
    assert_memory_not_equal(again, sealed, n);
    assert_int_equal(jp_unseal(key, &rec, 3, again, n2, back, sizeof back, &m, &err), 0);

    /* An empty value seals too. */
    assert_int_equal(jp_seal(key, &owner, &rec, 33, "", 0, sealed, sizeof sealed, &n), 0);
    assert_int_equal(n, JP_SEAL_OVERHEAD);
    assert_int_equal(jp_unseal(key, &rec, 33, sealed, n, back, sizeof back, &m, &err), 0);
    assert_int_equal(m, 0);
}

static void
test_blind(void **state)
{
    (void)state;
    uint8_t s1[JP_BLIND_SECRET_LEN], s2[JP_BLIND_SECRET_LEN], a[JP_BLIND_LEN],
        b[JP_BLIND_LEN], c[JP_BLIND_LEN], d[JP_BLIND_LEN];
    assert_int_equal(jp_seal_key_new(s1), 0);
    assert_int_equal(jp_seal_key_new(s2), 0);
    assert_int_equal(jp_blind(s1, JP_BLIND_PHONE, "+8613800138000", 14, a), 0);
    assert_int_equal(jp_blind(s1, JP_BLIND_PHONE, "+8613800138000", 14, b), 0);
    assert_memory_equal(a, b, JP_BLIND_LEN); /* a lookup key: deterministic */
    assert_int_equal(jp_blind(s2, JP_BLIND_PHONE, "+8613800138000", 14, c), 0);
    assert_memory_not_equal(a, c, JP_BLIND_LEN); /* keyed */
    assert_int_equal(jp_blind(s1, JP_BLIND_IDNUM, "+8613800138000", 14, d), 0);
    assert_memory_not_equal(a, d, JP_BLIND_LEN); /* the domain counts */

    /* RFC 4231 test case 2 gives HMAC-SHA256("Jefe", ...) = 5bdcc146...;
     * with a 32-byte secret "Jefe" and zeros and the domain byte 'w' ahead
     * of "hat do ya want for nothing?" the input is the RFC's message. */
    uint8_t jefe[JP_BLIND_SECRET_LEN] = {'J', 'e', 'f', 'e'}, v[JP_BLIND_LEN];
    const char *msg = "hat do ya want for nothing?";
    assert_int_equal(jp_blind(jefe, (jp_blind_kind_t)'w', msg, strlen(msg), v), 0);
    /* HMAC pads a short key with zeros to the block: the same MAC. */
    static const uint8_t want[JP_BLIND_LEN] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60,
                                               0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26,
                                               0x08, 0x95, 0x75, 0xc7};
    assert_memory_equal(v, want, JP_BLIND_LEN);
}

typedef struct {
    char dir[64]; /* the node's directory */
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jp-test-seal-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    jp_test_rm_tree(f->dir);
    free(f);
    return 0;
}

/* The whole of dir/name, malloc'd, into *len. */
static uint8_t *
s_slurp(const char *dir, const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

static void
test_keyring_keeps_and_erases(void **state)
{
    fixture_t *f = *state;
    jp_keyring_t *k = NULL;
    jp_err_t err = {0};
    uint8_t key[JP_SEAL_KEY_LEN], got[JP_SEAL_KEY_LEN], keys[100][JP_SEAL_KEY_LEN];

    assert_int_equal(jp_keyring_open(&k, f->dir, false, &err), JP_ENOTFOUND);
    assert_int_equal(jp_keyring_open(&k, f->dir, true, &err), 0);
    for (int i = 0; i < 100; i++) {
        jp_id_t o = s_id((uint8_t)(i + 1));
        assert_int_equal(jp_keyring_make(k, &o, keys[i], &err), 0);
    }
    jp_id_t o7 = s_id(7), o200 = s_id(200);
    assert_int_equal(jp_keyring_get(k, &o7, got), JP_KEY_LIVE);
    assert_memory_equal(got, keys[6], JP_SEAL_KEY_LEN);
    assert_int_equal(jp_keyring_get(k, &o200, got), JP_KEY_NONE);
    assert_int_equal(jp_keyring_put(k, &o7, keys[6], &err), 0); /* the same: no-op */
    assert_int_equal(jp_keyring_make(k, &o7, key, &err), JP_EEXIST);
    jp_keyring_close(&k);
    assert_null(k);

    /* Files are the owner's only; a readable one is refused. */
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/keys", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    chmod(path, 0644);
    assert_int_equal(jp_keyring_open(&k, f->dir, false, &err), JP_EPERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    chmod(path, 0600);

    /* Reopened: every key back.  The raw file holds no key in clear. */
    assert_int_equal(jp_keyring_open(&k, f->dir, false, &err), 0);
    for (int i = 0; i < 100; i++) {
        jp_id_t o = s_id((uint8_t)(i + 1));
        assert_int_equal(jp_keyring_get(k, &o, got), JP_KEY_LIVE);
        assert_memory_equal(got, keys[i], JP_SEAL_KEY_LEN);
    }
    size_t len = 0;
    uint8_t *raw = s_slurp(f->dir, "keys", &len);
    assert_int_equal(len, 64 + 100 * 64);
    for (int i = 0; i < 100; i++)
        assert_null(memmem(raw, len, keys[i], JP_SEAL_KEY_LEN));
    /* The wrapped key of owner 7, as it is in the file before the erasure. */
    uint8_t wrapped7[40];
    const uint8_t *slot7 = NULL;
    for (size_t at = 64; at < len; at += 64)
        if (memcmp(raw + at + 8, o7.b, 16) == 0)
            slot7 = raw + at;
    assert_non_null(slot7);
    memcpy(wrapped7, slot7 + 24, 40);
    free(raw);

    /* Erase: gone from memory, from the file, and final. */
    assert_int_equal(jp_keyring_erase(k, &o7, &err), 0);
    assert_int_equal(jp_keyring_get(k, &o7, got), JP_KEY_ERASED);
    assert_int_equal(jp_keyring_put(k, &o7, keys[6], &err), JP_EPERM);
    assert_int_equal(jp_keyring_erase(k, &o7, &err), 0);
    assert_int_equal(jp_keyring_erase(k, &o200, &err), 0); /* never held */
    assert_int_equal(jp_keyring_make(k, &o200, key, &err), JP_EPERM);
    raw = s_slurp(f->dir, "keys", &len);
    assert_null(memmem(raw, len, wrapped7, sizeof wrapped7));
    free(raw);
    jp_keyring_stat_t ks;
    assert_int_equal(jp_keyring_stat(k, &ks), 0);
    assert_int_equal(ks.live, 99);
    assert_int_equal(ks.erased, 2);
    assert_int_equal(ks.rings, 1);
    jp_keyring_close(&k);

    assert_int_equal(jp_keyring_open(&k, f->dir, false, &err), 0);
    assert_int_equal(jp_keyring_get(k, &o7, got), JP_KEY_ERASED);
    jp_keyring_close(&k);
}

static void
test_keyring_two_processes(void **state)
{
    fixture_t *f = *state;
    jp_keyring_t *k = NULL;
    jp_err_t err = {0};
    uint8_t got[JP_SEAL_KEY_LEN];
    assert_int_equal(jp_keyring_open(&k, f->dir, true, &err), 0);
    /* Two children write 200 keys each at the same time. */
    pid_t pid[2];
    for (int c = 0; c < 2; c++) {
        if ((pid[c] = fork()) == 0) {
            jp_keyring_t *ck = NULL;
            uint8_t key[JP_SEAL_KEY_LEN];
            if (jp_keyring_open(&ck, f->dir, false, NULL))
                _exit(1);
            for (int i = 0; i < 200; i++) {
                jp_id_t o = s_id(0);
                o.b[0] = (uint8_t)(c + 1);
                o.b[1] = (uint8_t)i;
                memset(key, c * 200 + i, sizeof key);
                if (jp_keyring_put(ck, &o, key, NULL))
                    _exit(2);
            }
            jp_keyring_close(&ck);
            _exit(0);
        }
    }
    for (int c = 0; c < 2; c++) {
        int st = 0;
        assert_int_equal(waitpid(pid[c], &st, 0), pid[c]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    /* The parent's open ring sees every key (it re-reads on a miss). */
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 200; i++) {
            jp_id_t o = s_id(0);
            o.b[0] = (uint8_t)(c + 1);
            o.b[1] = (uint8_t)i;
            assert_int_equal(jp_keyring_get(k, &o, got), JP_KEY_LIVE);
            assert_int_equal(got[0], (uint8_t)(c * 200 + i));
        }
    jp_keyring_stat_t ks;
    assert_int_equal(jp_keyring_stat(k, &ks), 0);
    assert_int_equal(ks.live, 400);
    jp_keyring_close(&k);
}

static void
test_keyring_rotation(void **state)
{
    fixture_t *f = *state;
    jp_keyring_t *k = NULL;
    jp_err_t err = {0};
    uint8_t key[JP_SEAL_KEY_LEN], got[JP_SEAL_KEY_LEN];
    jp_id_t o1 = s_id(1), o2 = s_id(2);
    assert_int_equal(jp_keyring_open(&k, f->dir, true, &err), 0);
    assert_int_equal(jp_keyring_make(k, &o1, key, &err), 0);
    assert_int_equal(jp_keyring_make(k, &o2, got, &err), 0);

    /* A backup of both files now. */
    char cmd[512], bak[80];
    snprintf(bak, sizeof bak, "%s/backup", f->dir);
    snprintf(cmd, sizeof cmd, "mkdir -m 700 %s && cp -p %s/keys %s/keys.ring %s/", bak,
             f->dir, f->dir, bak);
    assert_int_equal(system(cmd), 0);

    /* Erase owner 2, then rotate twice keeping one ring key. */
    assert_int_equal(jp_keyring_erase(k, &o2, &err), 0);
    assert_int_equal(jp_keyring_rotate(k, 1, &err), 0);
    assert_int_equal(jp_keyring_get(k, &o1, got), JP_KEY_LIVE);
    assert_memory_equal(got, key, JP_SEAL_KEY_LEN);
    assert_int_equal(jp_keyring_rotate(k, 1, &err), 0);
    jp_keyring_stat_t ks;
    assert_int_equal(jp_keyring_stat(k, &ks), 0);
    assert_int_equal(ks.rings, 1);
    assert_int_equal(ks.ring, 3);
    jp_keyring_close(&k);
    assert_int_equal(jp_keyring_open(&k, f->dir, false, &err), 0);
    assert_int_equal(jp_keyring_get(k, &o1, got), JP_KEY_LIVE);
    assert_memory_equal(got, key, JP_SEAL_KEY_LEN);
    jp_keyring_close(&k);

    /* The old backup's keys file with today's ring file: its slots are
     * wrapped under ring key 1, which is gone, so no key of it opens --
     * owner 2's erased key included. */
    snprintf(cmd, sizeof cmd, "cp -p %s/keys.ring %s/keys.ring", f->dir, bak);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(jp_keyring_open(&k, bak, false, &err), JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "ring key 1"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_blind),
        cmocka_unit_test_setup_teardown(test_keyring_keeps_and_erases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_two_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_rotation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
