/*
 * file.h -- opening the files people name on a command line or in a
 * configuration: regular files only.
 *
 * A FIFO, a device or a directory given where a file is expected must be
 * refused before anything blocks on it: open(2) of a FIFO waits for a
 * writer for ever, and read(2) of a terminal for a line.  Every program
 * that reads a named file (the import's CSV files, the auditor's export
 * file, the server's configuration) checks it here first.
 */
#ifndef JP_FILE_H
#define JP_FILE_H

#include "err.h"

/* Open path read-only, refusing what is not a regular file without
 * blocking on it (O_NONBLOCK for the open, cleared after fstat).  Returns
 * the descriptor (close-on-exec; the caller closes it), or JP_ENOTFOUND
 * (no regular file there: missing, or a FIFO, device or directory, the
 * message says which, so that a program exits alike for both) or JP_EIO
 * (errno's words), with err naming what (e.g. "--customers") and path. */
int jp_file_open_read(const char *path, const char *what, jp_err_t *err);

/* The same check without opening: 0 when path names a regular file (after
 * symbolic links), else the codes of jp_file_open_read.  For callers whose
 * library opens the file itself. */
int jp_file_check_regular(const char *path, const char *what, jp_err_t *err);

#endif
