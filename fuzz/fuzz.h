/*
 * fuzz.h -- what the harnesses in fuzz/ share: a property that does not
 * hold is a crash, with a line that says which and where, so that
 * libFuzzer keeps the input that broke it.
 */
#ifndef JP_FUZZ_H
#define JP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Stop the run if cond is false: libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                            \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* fuzz_file.c: the path of this process's input file
 * (jp-fuzz-<name>-<pid>.jpx, removed at exit), and writing an input to it. */
const char *fuzz_file_init(const char *name);
void fuzz_file_write(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
