/*
 * table.c -- one table, three writers: HTML (through web.h's escaper),
 * CSV (libcsv quotes each field) and XLSX (libxlsxwriter, which writes a
 * file: the workbook goes to a temporary file that is read back and
 * removed).  Cells are kept typed, so the workbook holds numbers where
 * the page shows numbers.
 */
#include "table.h"

#include "report.h"
#include "web.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

enum { S_EMPTY = 0, S_TEXT, S_INT, S_FIXED };

typedef struct {
    uint8_t type; /* S_* */
    int64_t v;    /* S_INT; S_FIXED in hundredths */
    char *s;      /* S_TEXT, owned */
} s_cell_t;

typedef struct {
    char *key;   /* data-key, owned; NULL none */
    s_cell_t *c; /* [ncols] */
    int filled;  /* cells given so far */
} s_row_t;

struct dash_table {
    char id[32];
    char *title;
    int ncols;
    char *heads[DASH_TABLE_COLS];
    s_row_t *rows;
    size_t nrows, cap;
};

dash_table_t *
dash_table_new(const char *id, const char *title, int ncols)
{
    if (ncols < 1 || ncols > DASH_TABLE_COLS)
        return NULL;
    dash_table_t *t = calloc(1, sizeof *t);
    if (!t || !(t->title = strdup(title))) {
        free(t);
        return NULL;
    }
    snprintf(t->id, sizeof t->id, "%s", id);
    t->ncols = ncols;
    return t;
}

void
dash_table_destroy(dash_table_t **self_p)
{
    dash_table_t *t = *self_p;
    if (!t)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++)
            free(t->rows[r].c[c].s);
        free(t->rows[r].c);
        free(t->rows[r].key);
    }
    for (int c = 0; c < t->ncols; c++)
        free(t->heads[c]);
    free(t->rows);
    free(t->title);
    free(t);
    *self_p = NULL;
}

const char *
dash_table_id(const dash_table_t *t)
{
    return t->id;
}

const char *
dash_table_title(const dash_table_t *t)
{
    return t->title;
}

int
dash_table_cols(const dash_table_t *t)
{
    return t->ncols;
}

size_t
dash_table_rows(const dash_table_t *t)
{
    return t->nrows;
}

int
dash_table_head(dash_table_t *t, int col, const char *text)
{
    if (col < 0 || col >= t->ncols)
        return JP_EINVAL;
    free(t->heads[col]);
    return (t->heads[col] = strdup(text)) ? 0 : JP_ENOMEM;
}

int
dash_table_row(dash_table_t *t, const char *key)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        s_row_t *r = realloc(t->rows, cap * sizeof *r);
        if (!r)
            return JP_ENOMEM;
        t->rows = r;
        t->cap = cap;
    }
    s_row_t *r = &t->rows[t->nrows];
    memset(r, 0, sizeof *r);
    if (!(r->c = calloc((size_t)t->ncols, sizeof *r->c)))
        return JP_ENOMEM;
    if (key && !(r->key = strdup(key))) {
        free(r->c);
        return JP_ENOMEM;
    }
    t->nrows++;
    return 0;
}

/* The next cell of the current row, or NULL when the row is full. */
static s_cell_t *
s_next(dash_table_t *t)
{
    if (!t->nrows)
        return NULL;
    s_row_t *r = &t->rows[t->nrows - 1];
    return r->filled < t->ncols ? &r->c[r->filled++] : NULL;
}

int
dash_table_text(dash_table_t *t, const char *s)
{
    s_cell_t *c = s_next(t);
    if (!c)
        return JP_EINVAL;
    c->type = S_TEXT;
    return (c->s = strdup(s ? s : "")) ? 0 : JP_ENOMEM;
}

int
dash_table_int(dash_table_t *t, int64_t v)
{
    s_cell_t *c = s_next(t);
    if (!c)
        return JP_EINVAL;
    c->type = S_INT;
    c->v = v;
    return 0;
}

int
dash_table_fixed(dash_table_t *t, int64_t v, bool na)
{
    s_cell_t *c = s_next(t);
    if (!c)
        return JP_EINVAL;
    c->type = na ? S_EMPTY : S_FIXED;
    c->v = v;
    return 0;
}

int
dash_table_empty(dash_table_t *t)
{
    return s_next(t) ? 0 : JP_EINVAL;
}

/* A number cell as text: "1234", "59.81"; "" when empty. */
static void
s_num_text(const s_cell_t *c, char *out, size_t cap)
{
    if (c->type == S_INT)
        snprintf(out, cap, "%lld", (long long)c->v);
    else if (c->type == S_FIXED)
        jp_format_hundredths(c->v, false, out, cap);
    else
        out[0] = '\0';
}

int
dash_table_html(const dash_table_t *t, jp_buf_t *out, const char *cls, size_t max_rows)
{
    size_t rows = max_rows && max_rows < t->nrows ? max_rows : t->nrows;
    char num[48];
    int rc = jp_web_printf(out, "<table id=\"t-%s\" class=\"%s\"><thead><tr>", t->id,
                           cls ? cls : "");
    for (int c = 0; c < t->ncols && !rc; c++)
        rc = jp_web_printf(out, "<th>%s</th>", t->heads[c] ? t->heads[c] : "");
    rc |= jp_web_raw(out, "</tr></thead><tbody>");
    for (size_t r = 0; r < rows && !rc; r++) {
        const s_row_t *row = &t->rows[r];
        rc = row->key ? jp_web_printf(out, "<tr data-key=\"%s\">", row->key)
                      : jp_web_raw(out, "<tr>");
        for (int c = 0; c < t->ncols && !rc; c++) {
            const s_cell_t *cell = &row->c[c];
            if (cell->type == S_TEXT) {
                rc = jp_web_printf(out, c == 0 ? "<th>%s</th>" : "<td>%s</td>", cell->s);
            } else {
                s_num_text(cell, num, sizeof num);
                rc = jp_web_printf(out, "<td class=\"num\">%s</td>", num[0] ? num : "—");
            }
        }
        rc |= jp_web_raw(out, "</tr>");
    }
    rc |= jp_web_raw(out, "</tbody></table>");
    return rc ? JP_ENOMEM : 0;
}

/* One CSV field, quoted by libcsv, then a comma or the line's end. */
static int
s_csv_field(jp_buf_t *out, const char *s, bool last)
{
    size_t n = strlen(s), need = csv_write(NULL, 0, s, n);
    char stack[256], *p = need <= sizeof stack ? stack : malloc(need);
    if (!p)
        return JP_ENOMEM;
    csv_write(p, need, s, n);
    int rc = jp_buf_append(out, p, need) ||
             jp_buf_append(out, last ? "\r\n" : ",", last ? 2 : 1);
    if (p != stack)
        free(p);
    return rc ? JP_ENOMEM : 0;
}

int
dash_table_csv(const dash_table_t *t, jp_buf_t *out)
{
    char num[48];
    int rc = jp_buf_append(out, "\xEF\xBB\xBF", 3) ? JP_ENOMEM : 0;
    for (int c = 0; c < t->ncols && !rc; c++)
        rc = s_csv_field(out, t->heads[c] ? t->heads[c] : "", c == t->ncols - 1);
    for (size_t r = 0; r < t->nrows && !rc; r++) {
        for (int c = 0; c < t->ncols && !rc; c++) {
            const s_cell_t *cell = &t->rows[r].c[c];
            if (cell->type == S_TEXT) {
                rc = s_csv_field(out, cell->s, c == t->ncols - 1);
            } else {
                s_num_text(cell, num, sizeof num);
                rc = s_csv_field(out, num, c == t->ncols - 1);
            }
        }
    }
    return rc;
}

/* A worksheet's name: Excel takes at most 31 characters and none of
 * []:*?/\ ; the title cut at a character boundary. */
static void
s_sheet_name(const char *title, int k, char *out, size_t cap)
{
    size_t o = 0, chars = 0;
    for (const unsigned char *p = (const unsigned char *)title; *p && chars < 28;) {
        size_t len = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        if (o + len + 8 >= cap)
            break;
        bool bad = len == 1 && strchr("[]:*?/\\", *p);
        for (size_t i = 0; i < len && p[i]; i++)
            out[o++] = bad ? '_' : (char)p[i];
        p += len;
        chars++;
    }
    if (o == 0)
        o = (size_t)snprintf(out, cap, "sheet%d", k + 1);
    out[o] = '\0';
}

int
dash_tables_xlsx(dash_table_t *const *tables, int n, jp_buf_t *out, jp_err_t *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096], name[128];
    snprintf(path, sizeof path, "%s/jipan-web.XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return jp_err_set(err, JP_EIO, "xlsx: no temporary file in %s",
                          dir && dir[0] ? dir : "/tmp");
    close(fd);
    lxw_workbook *wb = workbook_new(path);
    if (!wb) {
        unlink(path);
        return jp_err_set(err, JP_EIO, "xlsx: the workbook cannot be made");
    }
    lxw_format *bold = workbook_add_format(wb), *two = workbook_add_format(wb);
    format_set_bold(bold);
    format_set_num_format(two, "0.00");
    for (int k = 0; k < n; k++) {
        const dash_table_t *t = tables[k];
        s_sheet_name(t->title, k, name, sizeof name);
        lxw_worksheet *ws = workbook_add_worksheet(wb, name);
        if (!ws)
            ws = workbook_add_worksheet(wb, NULL); /* a name taken twice */
        if (!ws)
            continue;
        worksheet_set_column(ws, 0, 1, 28, NULL);
        for (int c = 0; c < t->ncols; c++)
            worksheet_write_string(ws, 0, (lxw_col_t)c, t->heads[c] ? t->heads[c] : "",
                                   bold);
        for (size_t r = 0; r < t->nrows; r++) {
            for (int c = 0; c < t->ncols; c++) {
                const s_cell_t *cell = &t->rows[r].c[c];
                lxw_row_t row = (lxw_row_t)(r + 1);
                if (cell->type == S_TEXT)
                    worksheet_write_string(ws, row, (lxw_col_t)c, cell->s, NULL);
                else if (cell->type == S_INT)
                    worksheet_write_number(ws, row, (lxw_col_t)c, (double)cell->v, NULL);
                else if (cell->type == S_FIXED)
                    worksheet_write_number(ws, row, (lxw_col_t)c, (double)cell->v / 100.0,
                                           two);
            }
        }
    }
    lxw_error e = workbook_close(wb);
    int rc = 0;
    if (e != LXW_NO_ERROR) {
        rc = jp_err_set(err, JP_EIO, "xlsx: %s", lxw_strerror(e));
    } else {
        FILE *f = fopen(path, "rb");
        char chunk[65536];
        size_t got;
        if (!f)
            rc = jp_err_set(err, JP_EIO, "xlsx: the workbook cannot be read back");
        while (f && (got = fread(chunk, 1, sizeof chunk, f)) > 0 && !rc)
            if (jp_buf_append(out, chunk, got))
                rc = jp_err_set(err, JP_ENOMEM, "out of memory");
        if (f)
            fclose(f);
    }
    unlink(path);
    return rc;
}
