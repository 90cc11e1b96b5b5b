/*
 * attest.c -- write and read a store's key file (attest.h).
 *
 * The reader is strict: the file has one byte form for what it says (the
 * lines in their order, decimal without leading zeros, each line ending
 * in LF, nothing after the signature), so that a tool written from
 * docs/EXPORT.md alone writes files this reads and reads files this
 * writes.  The signature covers the bytes as they are.
 */
#include "attest.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char s_magic[] = "jipan-store-keys 1";

int
jp_attest_write(const char *path, const jp_attest_t *a, const jp_key_t *key,
                jp_err_t *err)
{
    assert(path && a && key && a->nkeys >= 1 && a->nkeys <= JP_ATTEST_MAX_KEYS);
    uint8_t pub[JP_PUB_LEN], sig[JP_SIG_LEN];
    jp_key_public(key, pub);
    assert(memcmp(pub, a->keys[0], JP_PUB_LEN) == 0);
    size_t gl = strlen(a->group);
    if (gl == 0 || gl > JP_EXPORT_MAX_TEXT)
        return jp_err_set(err, JP_EINVAL, "the group name must be 1 to %d bytes",
                          JP_EXPORT_MAX_TEXT);
    for (size_t i = 0; i < gl; i++)
        if ((unsigned char)a->group[i] < 0x20 || a->group[i] == 0x7f)
            return jp_err_set(err, JP_EINVAL, "the group name holds a control character");
    char buf[JP_ATTEST_MAX_FILE];
    char hex[2 * JP_SIG_LEN + 1];
    int n = snprintf(buf, sizeof buf, "%s\ngroup %s\nstore %u\nmade %llu\n", s_magic,
                     a->group, a->store, (unsigned long long)a->ms);
    for (int i = 0; i < a->nkeys; i++) {
        jp_hex(a->keys[i], JP_PUB_LEN, hex);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "key %s\n", hex);
    }
    int rc = jp_key_sign(key, buf, (size_t)n, sig);
    if (rc)
        return jp_err_set(err, rc, "signing the key file failed");
    jp_hex(sig, JP_SIG_LEN, hex);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "sig %s\n", hex);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return jp_err_set(err, e == EEXIST ? JP_EEXIST : JP_EIO, "cannot create %s: %s",
                          path, strerror(e));
    }
    ssize_t w = write(fd, buf, (size_t)n);
    int e = errno;
    if (w == n && fsync(fd) != 0)
        w = -1, e = errno;
    close(fd);
    if (w != n) {
        unlink(path);
        return jp_err_set(err, JP_EIO, "writing %s: %s", path,
                          w < 0 ? strerror(e) : "short write");
    }
    return 0;
}

/* A decimal of at most max, without sign or leading zeros. */
static int
s_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Line k (1-based) of the file: "word value"; the value and its length. */
static const char *
s_value(const char *line, size_t len, const char *word, size_t *vn)
{
    size_t wl = strlen(word);
    if (len <= wl + 1 || memcmp(line, word, wl) != 0 || line[wl] != ' ')
        return NULL;
    *vn = len - wl - 1;
    return line + wl + 1;
}

int
jp_attest_read(const char *path, jp_attest_t *out, jp_err_t *err)
{
    memset(out, 0, sizeof *out);
    char buf[JP_ATTEST_MAX_FILE + 1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return jp_err_set(err, e == ENOENT ? JP_ENOTFOUND : JP_EIO, "cannot open %s: %s",
                          path, strerror(e));
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return jp_err_set(err, JP_EIO, "reading %s failed", path);
    if (n > JP_ATTEST_MAX_FILE)
        return jp_err_set(err, JP_ETOOBIG, "%s: over %d bytes: not a store key file",
                          path, JP_ATTEST_MAX_FILE);
    size_t at = 0, signed_len = 0;
    uint8_t sig[JP_SIG_LEN];
    bool have_sig = false;
    for (int k = 1; at < n; k++) {
        const char *line = buf + at;
        const char *nl = memchr(line, '\n', n - at);
        if (!nl)
            return jp_err_set(err, JP_ECORRUPT, "%s line %d: does not end in a newline",
                              path, k);
        size_t len = (size_t)(nl - line), vn = 0;
        const char *v;
        uint64_t num;
        if (have_sig)
            return jp_err_set(err, JP_ECORRUPT, "%s line %d: text after the sig line",
                              path, k);
        if (k == 1) {
            if (len > 17 && !memcmp(line, s_magic, 17) && line[17] == ' ' &&
                (len != sizeof s_magic - 1 || memcmp(line, s_magic, len) != 0))
                return jp_err_set(err, JP_EVERSION,
                                  "%s: a store key file of another version (%.*s); this "
                                  "program reads version 1",
                                  path, (int)(len > 40 ? 40 : len), line);
            if (len != sizeof s_magic - 1 || memcmp(line, s_magic, len) != 0)
                return jp_err_set(err, JP_ECORRUPT,
                                  "%s: not a store key file (its first line is not `%s`)",
                                  path, s_magic);
        } else if (k == 2) {
            if (!(v = s_value(line, len, "group", &vn)) || vn > JP_EXPORT_MAX_TEXT)
                return jp_err_set(err, JP_ECORRUPT,
                                  "%s line 2: not `group NAME` (1 to %d bytes)", path,
                                  JP_EXPORT_MAX_TEXT);
            for (size_t i = 0; i < vn; i++)
                if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                    return jp_err_set(err, JP_ECORRUPT,
                                      "%s line 2: a control character in the group name",
                                      path);
            memcpy(out->group, v, vn);
            out->group[vn] = '\0';
        } else if (k == 3) {
            if (!(v = s_value(line, len, "store", &vn)) ||
                s_decimal(v, vn, 65535, &num) || num == 0)
                return jp_err_set(err, JP_ECORRUPT,
                                  "%s line 3: not `store N` (N from 1 to 65535)", path);
            out->store = (uint16_t)num;
        } else if (k == 4) {
            if (!(v = s_value(line, len, "made", &vn)) ||
                s_decimal(v, vn, UINT64_MAX, &out->ms))
                return jp_err_set(err, JP_ECORRUPT,
                                  "%s line 4: not `made MS` (unix milliseconds)", path);
        } else if ((v = s_value(line, len, "key", &vn))) {
            if (have_sig || out->nkeys == JP_ATTEST_MAX_KEYS)
                return jp_err_set(err, JP_ETOOBIG, "%s line %d: over %d keys", path, k,
                                  JP_ATTEST_MAX_KEYS);
            uint8_t *key = out->keys[out->nkeys];
            if (vn != 2 * JP_PUB_LEN || jp_unhex(v, key, JP_PUB_LEN))
                return jp_err_set(err, JP_ECORRUPT, "%s line %d: a key is 64 hex digits",
                                  path, k);
            for (int i = 0; i < out->nkeys; i++)
                if (!memcmp(out->keys[i], key, JP_PUB_LEN))
                    return jp_err_set(err, JP_ECORRUPT,
                                      "%s line %d: the same key as line %d", path, k,
                                      5 + i);
            out->nkeys++;
        } else if ((v = s_value(line, len, "sig", &vn))) {
            if (out->nkeys == 0)
                return jp_err_set(err, JP_ECORRUPT,
                                  "%s line %d: the sig line comes before any key line",
                                  path, k);
            if (vn != 2 * JP_SIG_LEN || jp_unhex(v, sig, JP_SIG_LEN))
                return jp_err_set(err, JP_ECORRUPT,
                                  "%s line %d: a signature is 128 hex digits", path, k);
            signed_len = at;
            have_sig = true;
        } else {
            return jp_err_set(err, JP_ECORRUPT,
                              "%s line %d: neither `key HEX` nor `sig HEX`", path, k);
        }
        at += len + 1;
    }
    if (!have_sig)
        return jp_err_set(err, JP_ECORRUPT, "%s: no sig line (truncated?)", path);
    if (jp_sig_verify(out->keys[0], buf, signed_len, sig) != 0)
        return jp_err_set(err, JP_ESIG,
                          "%s: its signature does not verify with its first key (the "
                          "file was altered, or not made by the store)",
                          path);
    return 0;
}
