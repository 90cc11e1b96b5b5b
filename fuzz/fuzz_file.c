/*
 * fuzz_file.c -- the file a harness hands its input to, for the code that
 * reads a path rather than bytes (the export reader, the auditor).  One
 * file per process, in /dev/shm when there is one (no disk writes per
 * input), removed at exit.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char s_path[64];

static void
s_cleanup(void)
{
    unlink(s_path);
}

const char *
fuzz_file_init(const char *name)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(s_path, sizeof s_path, "%s/jp-fuzz-%s-%d.jpx", dir, name, (int)getpid());
    atexit(s_cleanup);
    return s_path;
}

void
fuzz_file_write(const uint8_t *data, size_t size)
{
    int fd = open(s_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot create %s", s_path);
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        FUZZ_CHECK(w > 0, "cannot write %s", s_path);
        off += (size_t)w;
    }
    close(fd);
}
