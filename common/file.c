/*
 * file.c -- regular files only: a FIFO, device or directory named as a
 * file is refused with what it is, before anything can block on it.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What st is, for a message. */
static const char *
s_kind(const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        return "a directory";
    if (S_ISFIFO(st->st_mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(st->st_mode))
        return "a character device";
    if (S_ISBLK(st->st_mode))
        return "a block device";
    if (S_ISSOCK(st->st_mode))
        return "a socket";
    return "not a regular file";
}

static int
s_errno(int e, const char *what, const char *path, jp_err_t *err)
{
    return jp_err_set(err, e == ENOENT || e == ENOTDIR ? JP_ENOTFOUND : JP_EIO,
                      "%s %s: %s", what, path,
                      e == ENOENT ? "no such file" : strerror(e));
}

static int
s_regular(const struct stat *st, const char *what, const char *path, jp_err_t *err)
{
    if (S_ISREG(st->st_mode))
        return 0;
    return jp_err_set(err, JP_ENOTFOUND, "%s %s: is %s, not a regular file", what, path,
                      s_kind(st));
}

int
jp_file_check_regular(const char *path, const char *what, jp_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return s_errno(errno, what, path, err);
    return s_regular(&st, what, path, err);
}

int
jp_file_open_read(const char *path, const char *what, jp_err_t *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return s_errno(errno, what, path, err);
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = s_errno(errno, what, path, err);
    else if ((rc = s_regular(&st, what, path, err)) == 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
            rc = s_errno(errno, what, path, err);
    }
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}
