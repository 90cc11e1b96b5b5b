/*
 * test_crypto.c -- SHA-256 against published vectors, the Ed25519 key file
 * (modes, refusal to overwrite, refusal of a readable file), signatures and
 * the exact bytes a batch signature covers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"

/* A temp directory per test, removed with what the test left in it. */
typedef struct {
    char dir[64];  /* mkdtemp result */
    char key[128]; /* dir/store.key */
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jp-test-crypto-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->key, sizeof f->key, "%s/store.key", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->key);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
hash_hex(const void *p, size_t n, char out[2 * JP_HASH_LEN + 1])
{
    uint8_t h[JP_HASH_LEN];
    assert_int_equal(jp_sha256(p, n, h), 0);
    jp_hex(h, sizeof h, out);
}

static void
test_sha256_vectors(void **state)
{
    (void)state;
    char hex[2 * JP_HASH_LEN + 1];
    /* FIPS 180-2 examples. */
    hash_hex("", 0, hex);
    assert_string_equal(
        hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash_hex("abc", 3, hex);
    assert_string_equal(
        hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hash_hex(two, strlen(two), hex);
    assert_string_equal(
        hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* The reused context must not carry state from one hash to the next. */
    hash_hex("abc", 3, hex);
    assert_string_equal(
        hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Each thread hashes with its own context: results agree across threads
 * and the contexts of finished threads are freed (LeakSanitizer checks). */
static void *
s_hash_many(void *arg)
{
    uint8_t *out = arg;
    uint8_t buf[200], h[JP_HASH_LEN];
    memset(out, 0, JP_HASH_LEN);
    for (int i = 0; i < 2000; i++) {
        memset(buf, i & 0xff, sizeof buf);
        if (jp_sha256(buf, sizeof buf, h) != 0)
            return NULL;
        for (int k = 0; k < JP_HASH_LEN; k++)
            out[k] ^= h[k];
    }
    return out;
}

static void
test_sha256_threads(void **state)
{
    (void)state;
    uint8_t mine[JP_HASH_LEN], theirs[4][JP_HASH_LEN];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_hash_many, theirs[i]), 0);
    assert_ptr_equal(s_hash_many(mine), mine);
    for (int i = 0; i < 4; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_ptr_equal(ret, theirs[i]);
        assert_memory_equal(mine, theirs[i], JP_HASH_LEN);
    }
}

static void
test_sha_incremental(void **state)
{
    (void)state;
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    uint8_t one[JP_HASH_LEN], inc[JP_HASH_LEN];
    assert_int_equal(jp_sha256(data, sizeof data, one), 0);

    jp_sha_t *sha = NULL;
    assert_int_equal(jp_sha_new(&sha), 0);
    assert_non_null(sha);
    /* Uneven pieces, an empty one included. */
    size_t cuts[] = {0, 1, 1, 63, 64, 65, 200, 1000};
    for (size_t i = 1; i < sizeof cuts / sizeof cuts[0]; i++)
        assert_int_equal(jp_sha_update(sha, data + cuts[i - 1], cuts[i] - cuts[i - 1]),
                         0);
    assert_int_equal(jp_sha_final(sha, inc), 0);
    assert_memory_equal(one, inc, JP_HASH_LEN);

    /* Reusable after final: a second digest starts afresh. */
    assert_int_equal(jp_sha_update(sha, "abc", 3), 0);
    assert_int_equal(jp_sha_final(sha, inc), 0);
    char hex[2 * JP_HASH_LEN + 1];
    jp_hex(inc, JP_HASH_LEN, hex);
    assert_string_equal(
        hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    jp_sha_destroy(&sha);
    assert_null(sha);
    jp_sha_destroy(&sha); /* NULL-safe */
}

static void
test_key_round_trip(void **state)
{
    fixture_t *f = *state;
    jp_err_t err = {0};
    jp_key_t *key = NULL, *back = NULL;
    assert_int_equal(jp_key_generate(&key, &err), 0);
    assert_int_equal(jp_key_save(key, f->key, &err), 0);

    struct stat st;
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* PKCS#8 PEM, not the traditional or raw form. */
    char head[64] = {0};
    FILE *fp = fopen(f->key, "r");
    assert_non_null(fp);
    assert_non_null(fgets(head, sizeof head, fp));
    fclose(fp);
    assert_string_equal(head, "-----BEGIN PRIVATE KEY-----\n");

    assert_int_equal(jp_key_load(&back, f->key, &err), 0);
    uint8_t pub1[JP_PUB_LEN], pub2[JP_PUB_LEN];
    jp_key_public(key, pub1);
    jp_key_public(back, pub2);
    assert_memory_equal(pub1, pub2, JP_PUB_LEN);

    /* The loaded key signs what the original's public key verifies. */
    uint8_t sig[JP_SIG_LEN];
    assert_int_equal(jp_key_sign(back, "hello", 5, sig), 0);
    assert_int_equal(jp_sig_verify(pub1, "hello", 5, sig), 0);

    jp_key_destroy(&key);
    jp_key_destroy(&back);
    assert_null(key);
    jp_key_destroy(&key); /* NULL-safe */
}

static void
test_key_save_refuses_existing(void **state)
{
    fixture_t *f = *state;
    jp_err_t err = {0};
    jp_key_t *a = NULL, *b = NULL, *back = NULL;
    assert_int_equal(jp_key_generate(&a, &err), 0);
    assert_int_equal(jp_key_generate(&b, &err), 0);
    assert_int_equal(jp_key_save(a, f->key, &err), 0);
    assert_int_equal(jp_key_save(b, f->key, &err), JP_EEXIST);
    assert_int_equal(err.code, JP_EEXIST);
    assert_non_null(strstr(err.msg, f->key));
    assert_non_null(strstr(err.msg, "File exists"));

    /* The file still holds the first key. */
    assert_int_equal(jp_key_load(&back, f->key, &err), 0);
    uint8_t pa[JP_PUB_LEN], pb[JP_PUB_LEN], pback[JP_PUB_LEN];
    jp_key_public(a, pa);
    jp_key_public(b, pb);
    jp_key_public(back, pback);
    assert_memory_equal(pa, pback, JP_PUB_LEN);
    assert_memory_not_equal(pa, pb, JP_PUB_LEN);

    /* A directory that does not exist: the errno words are in the message. */
    char path[160];
    snprintf(path, sizeof path, "%s/missing/store.key", f->dir);
    assert_int_equal(jp_key_save(a, path, &err), JP_EIO);
    assert_non_null(strstr(err.msg, "No such file or directory"));

    jp_key_destroy(&a);
    jp_key_destroy(&b);
    jp_key_destroy(&back);
}

static void
test_key_load_refuses_readable(void **state)
{
    fixture_t *f = *state;
    jp_err_t err = {0};
    jp_key_t *key = NULL, *back = NULL;
    assert_int_equal(jp_key_generate(&key, &err), 0);
    assert_int_equal(jp_key_save(key, f->key, &err), 0);

    assert_int_equal(chmod(f->key, 0644), 0);
    assert_int_equal(jp_key_load(&back, f->key, &err), JP_EPERM);
    assert_null(back);
    assert_non_null(strstr(err.msg, "readable by others"));
    assert_non_null(strstr(err.msg, "0644"));
    assert_non_null(strstr(err.msg, "chmod 600"));

    assert_int_equal(chmod(f->key, 0620), 0); /* group may write: refused too */
    assert_int_equal(jp_key_load(&back, f->key, &err), JP_EPERM);
    assert_non_null(strstr(err.msg, "0620"));

    assert_int_equal(chmod(f->key, 0400), 0); /* owner read-only is fine */
    assert_int_equal(jp_key_load(&back, f->key, &err), 0);
    jp_key_destroy(&back);
    assert_int_equal(chmod(f->key, 0600), 0);

    jp_key_destroy(&key);
}

static void
test_key_load_bad_files(void **state)
{
    fixture_t *f = *state;
    jp_err_t err = {0};
    jp_key_t *back = NULL;
    assert_int_equal(jp_key_load(&back, f->key, &err), JP_ENOTFOUND);

    /* Not a key. */
    int fd = open(f->key, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    const char junk[] = "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
                        "-----END PRIVATE KEY-----\n";
    assert_int_equal(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    close(fd);
    assert_int_equal(jp_key_load(&back, f->key, &err), JP_ECORRUPT);
    assert_null(back);
    assert_non_null(strstr(err.msg, "not an Ed25519 private key"));
}

static void
test_sign_verify(void **state)
{
    (void)state;
    jp_err_t err = {0};
    jp_key_t *key = NULL, *other = NULL;
    assert_int_equal(jp_key_generate(&key, &err), 0);
    assert_int_equal(jp_key_generate(&other, &err), 0);
    uint8_t pub[JP_PUB_LEN], other_pub[JP_PUB_LEN];
    jp_key_public(key, pub);
    jp_key_public(other, other_pub);

    uint8_t head[JP_HASH_LEN];
    assert_int_equal(jp_sha256("chain head", 10, head), 0);
    uint8_t msg[JP_BATCH_MSG_LEN], sig[JP_SIG_LEN];
    assert_int_equal(jp_batch_msg(3, 1, 500, head, msg), JP_BATCH_MSG_LEN);
    assert_int_equal(jp_key_sign(key, msg, sizeof msg, sig), 0);
    assert_int_equal(jp_sig_verify(pub, msg, sizeof msg, sig), 0);

    /* Ed25519 is deterministic: the same message gives the same signature. */
    uint8_t sig2[JP_SIG_LEN];
    assert_int_equal(jp_key_sign(key, msg, sizeof msg, sig2), 0);
    assert_memory_equal(sig, sig2, JP_SIG_LEN);

    /* Every flipped bit of the message or the signature is caught. */
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] ^= 0x01;
        assert_int_equal(jp_sig_verify(pub, msg, sizeof msg, sig), JP_ESIG);
        msg[i] ^= 0x01;
    }
    for (size_t i = 0; i < JP_SIG_LEN; i++) {
        sig[i] ^= 0x80;
        assert_int_equal(jp_sig_verify(pub, msg, sizeof msg, sig), JP_ESIG);
        sig[i] ^= 0x80;
    }
    /* A shorter message, another key, an all-zero key. */
    assert_int_equal(jp_sig_verify(pub, msg, sizeof msg - 1, sig), JP_ESIG);
    assert_int_equal(jp_sig_verify(other_pub, msg, sizeof msg, sig), JP_ESIG);
    uint8_t zero[JP_PUB_LEN] = {0};
    assert_int_equal(jp_sig_verify(zero, msg, sizeof msg, sig), JP_ESIG);
    /* And after all that, the original still verifies. */
    assert_int_equal(jp_sig_verify(pub, msg, sizeof msg, sig), 0);

    /* An empty message can be signed too. */
    assert_int_equal(jp_key_sign(key, "", 0, sig), 0);
    assert_int_equal(jp_sig_verify(pub, "", 0, sig), 0);

    jp_key_destroy(&key);
    jp_key_destroy(&other);
}

static void
test_batch_msg_layout(void **state)
{
    (void)state;
    uint8_t head[JP_HASH_LEN];
    for (int i = 0; i < JP_HASH_LEN; i++)
        head[i] = (uint8_t)(0xa0 + i);
    uint8_t out[JP_BATCH_MSG_LEN];
    memset(out, 0xee, sizeof out);
    size_t n =
        jp_batch_msg(0x1234, 0x0102030405060708ull, 0x1112131415161718ull, head, out);
    assert_int_equal(n, 64);

    const uint8_t want[64] = {
        'j',  'i',  'p',  'a',  'n',  '-',  'b',  'a',  't',  'c',  'h',
        '-',  '1',  0x00,                               /* tag with its NUL: 14 bytes */
        0x12, 0x34,                                     /* store be16 */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* first be64 */
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* last be64 */
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
        0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
        0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, /* head */
    };
    for (int i = 0; i < 64; i++) {
        if (out[i] != want[i])
            fail_msg("batch msg byte %d: got 0x%02x, want 0x%02x", i, out[i], want[i]);
    }
}

static void
test_hex(void **state)
{
    (void)state;
    uint8_t bytes[256], back[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    char hex[513];
    jp_hex(bytes, sizeof bytes, hex);
    assert_int_equal(strlen(hex), 512);
    assert_memory_equal(hex, "000102", 6);
    assert_string_equal(hex + 506, "fdfeff");
    assert_int_equal(jp_unhex(hex, back, sizeof back), 0);
    assert_memory_equal(bytes, back, sizeof bytes);

    /* Upper case is read too. */
    uint8_t two[2];
    assert_int_equal(jp_unhex("aBcD", two, 2), 0);
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);
    /* A bad character, a string too short, an odd tail. */
    assert_int_equal(jp_unhex("zz00", two, 2), JP_EINVAL);
    assert_int_equal(jp_unhex("00g0", two, 2), JP_EINVAL);
    assert_int_equal(jp_unhex("00", two, 2), JP_EINVAL);
    assert_int_equal(jp_unhex("001", two, 2), JP_EINVAL);
    /* Zero bytes: an empty string. */
    char empty[1];
    jp_hex(bytes, 0, empty);
    assert_string_equal(empty, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_threads),
        cmocka_unit_test(test_sha_incremental),
        cmocka_unit_test_setup_teardown(test_key_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_save_refuses_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_load_refuses_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_load_bad_files, setup, teardown),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_batch_msg_layout),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
