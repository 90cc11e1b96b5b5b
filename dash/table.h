/*
 * table.h -- the dashboard's tables, made once and written three ways: as
 * HTML for the page, as CSV (libcsv) and as an Excel workbook
 * (libxlsxwriter) for the analysts' own tools.  A page builds its tables
 * from the server's answers and shows them; a download builds the very
 * same tables and writes them, so the file holds what the page showed.
 *
 * A table has a title (a worksheet's name, a heading), column heads, and
 * rows of cells filled left to right; a row may carry a key (the figure
 * it shows, "retention.churn") that the HTML gives as data-key, so that
 * scripts and tests find a row by what it is, not by its words.  Cells
 * are text, whole numbers, or numbers with two decimals (hundredths, as
 * the engine keeps rates and indexes), or empty (n/a).
 *
 * Functions returning int give 0 or JP_ENOMEM / JP_EIO.
 */
#ifndef DASH_TABLE_H
#define DASH_TABLE_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stdint.h>

#define DASH_TABLE_COLS 40 /* columns of one table */

typedef struct dash_table dash_table_t;

/* A table named id (for HTML ids and file names: [a-z_]) with title and
 * ncols columns (1..DASH_TABLE_COLS).  NULL when out of memory. */
dash_table_t *dash_table_new(const char *id, const char *title, int ncols);
void dash_table_destroy(dash_table_t **self_p);

const char *dash_table_id(const dash_table_t *t);
const char *dash_table_title(const dash_table_t *t);
int dash_table_cols(const dash_table_t *t);
size_t dash_table_rows(const dash_table_t *t);

/* Column col's head (copied). */
int dash_table_head(dash_table_t *t, int col, const char *text);

/* Start a row; key may be NULL.  The cells after it fill its columns;
 * cells not given stay empty. */
int dash_table_row(dash_table_t *t, const char *key);
int dash_table_text(dash_table_t *t, const char *s);       /* copied */
int dash_table_int(dash_table_t *t, int64_t v);            /* a whole number */
int dash_table_fixed(dash_table_t *t, int64_t v, bool na); /* hundredths */
int dash_table_empty(dash_table_t *t);

/* The table as HTML (<table id="t-ID" class="cls">, heads in <thead>,
 * numbers right-aligned with class num, rows with data-key); its first
 * max_rows rows (0: all). */
int dash_table_html(const dash_table_t *t, jp_buf_t *out, const char *cls,
                    size_t max_rows);

/* The table as CSV: a line of heads, then the rows; numbers as the page
 * writes them ("59.81"), empty cells empty.  UTF-8 with a byte-order mark
 * (so that Excel opens Chinese text as UTF-8). */
int dash_table_csv(const dash_table_t *t, jp_buf_t *out);

/* Tables as one workbook, a worksheet each (titled by the table's title,
 * heads in bold, numbers as numbers: two-decimal cells with the format
 * 0.00).  The bytes of the .xlsx file into out.  JP_EIO with err when the
 * library fails (it writes through a temporary file in $TMPDIR or /tmp). */
int dash_tables_xlsx(dash_table_t *const *tables, int n, jp_buf_t *out, jp_err_t *err);

#endif
