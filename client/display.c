/*
 * display.c -- tables that line up on a terminal with Chinese text in them.
 *
 * A terminal gives a CJK character two cells and a Latin letter one, so
 * padding by bytes (UTF-8: three per Han character) or by characters
 * misaligns every column that holds a name or a district.  cli_width()
 * decodes UTF-8 and counts East Asian wide and fullwidth characters as two
 * cells (the ranges of Unicode's EastAsianWidth W and F), combining marks
 * as none; the table pads each cell to its column's widest.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "validate.h"

/* Decode one UTF-8 character at s; *len gets its bytes (1 for a bad byte,
 * which then counts as one cell). */
static unsigned
s_decode(const unsigned char *s, int *len)
{
    unsigned c = s[0];
    int n = c < 0x80             ? 1
            : (c & 0xE0) == 0xC0 ? 2
            : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4
                                 : 0;
    if (n <= 1) {
        *len = 1;
        return c;
    }
    unsigned cp = c & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *len = n;
    return cp;
}

/* Cells one code point takes. */
static int
s_cells(unsigned cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
        return 0;
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F))
        return 0; /* combining marks, zero-width spaces, variation selectors */
    if ((cp >= 0x1100 && cp <= 0x115F) ||   /* Hangul Jamo */
        (cp >= 0x2E80 && cp <= 0x303E) ||   /* CJK radicals, punctuation */
        (cp >= 0x3041 && cp <= 0x33FF) ||   /* kana, bopomofo, CJK compat */
        (cp >= 0x3400 && cp <= 0x4DBF) ||   /* CJK extension A */
        (cp >= 0x4E00 && cp <= 0x9FFF) ||   /* CJK unified ideographs */
        (cp >= 0xA000 && cp <= 0xA4CF) ||   /* Yi */
        (cp >= 0xAC00 && cp <= 0xD7A3) ||   /* Hangul syllables */
        (cp >= 0xF900 && cp <= 0xFAFF) ||   /* CJK compatibility ideographs */
        (cp >= 0xFE30 && cp <= 0xFE4F) ||   /* CJK compatibility forms */
        (cp >= 0xFF00 && cp <= 0xFF60) ||   /* fullwidth forms */
        (cp >= 0xFFE0 && cp <= 0xFFE6) ||   /* fullwidth signs */
        (cp >= 0x1F300 && cp <= 0x1F64F) || /* pictographs, emoticons */
        (cp >= 0x1F900 && cp <= 0x1F9FF) || /* supplemental pictographs */
        (cp >= 0x20000 && cp <= 0x3FFFD))   /* CJK extensions B.. */
        return 2;
    return 1;
}

int
cli_width(const char *s)
{
    int w = 0, len;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        w += s_cells(s_decode(p, &len));
        for (int i = 0; i < len && *p; i++)
            p++;
    }
    return w;
}

struct cli_table {
    int ncols;    /* columns */
    int nrows;    /* rows added, header not counted */
    int cap;      /* rows allocated */
    char **cells; /* nrows x ncols copies, row-major; header first */
    bool *struck; /* per row: a deleted record */
    int *width;   /* per column: widest cell in cells */
};

cli_table_t *
cli_table_new(int ncols, const char *const *headers)
{
    cli_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->width = calloc((size_t)ncols, sizeof *t->width);
    if (!t->width || (headers && cli_table_add(t, headers, false) != 0)) {
        cli_table_destroy(&t);
        return NULL;
    }
    return t;
}

void
cli_table_destroy(cli_table_t **self_p)
{
    cli_table_t *t = *self_p;
    if (!t)
        return;
    for (int i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->struck);
    free(t->width);
    free(t);
    *self_p = NULL;
}

int
cli_table_add(cli_table_t *t, const char *const *cells, bool struck)
{
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *nc);
        if (!nc)
            return JP_ENOMEM;
        t->cells = nc;
        bool *ns = realloc(t->struck, (size_t)cap * sizeof *ns);
        if (!ns)
            return JP_ENOMEM;
        t->struck = ns;
        t->cap = cap;
    }
    char **row = t->cells + (size_t)t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        const char *s = cells[i] ? cells[i] : "";
        size_t n = strlen(s);
        row[i] = malloc(n + 1);
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return JP_ENOMEM;
        }
        /* Stored text may predate the control character check. */
        jp_text_show(s, n, row[i], n + 1);
    }
    for (int i = 0; i < t->ncols; i++) {
        int w = cli_width(row[i]);
        if (w > t->width[i])
            t->width[i] = w;
    }
    t->struck[t->nrows++] = struck;
    return 0;
}

void
cli_table_print(const cli_table_t *t, FILE *out)
{
    /* Strike-through only where a terminal can draw it; elsewhere the
     * caller's cell text already says "deleted". */
    bool tty = isatty(fileno(out));
    for (int r = 0; r < t->nrows; r++) {
        char **row = t->cells + (size_t)r * (size_t)t->ncols;
        if (tty && t->struck[r])
            fputs("\033[9m", out);
        for (int i = 0; i < t->ncols; i++) {
            bool last = i == t->ncols - 1;
            fputs(row[i], out);
            if (!last) {
                for (int pad = t->width[i] - cli_width(row[i]) + 2; pad > 0; pad--)
                    fputc(' ', out);
            }
        }
        if (tty && t->struck[r])
            fputs("\033[0m", out);
        fputc('\n', out);
    }
}
