/*
 * store.h -- what the jipan-store commands share: the run context, exit
 * codes, option parsing, field values, record lookups and table printing.
 *
 * Internal to client/: names carry a `cli_` prefix, not `jp_`, because
 * nothing outside this program uses them.
 */
#ifndef CLI_STORE_H
#define CLI_STORE_H

#include "db.h"
#include "err.h"
#include "record.h"
#include "schema.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_PROG "jipan-store"
#define CLI_KEY_FILE "store.key" /* the store's Ed25519 key, in the store dir */
#define CLI_DATA_FILE "data.mdb" /* LMDB's data file, in the store dir */
#define CLI_DAY_MS 86400000LL    /* one day, ms */
#define CLI_DAY_1900 (-25567)    /* 1900-01-01, days since 1970-01-01 */

/* Exit codes. */
enum {
    CLI_OK = 0,       /* done */
    CLI_REFUSED = 1,  /* refused, invalid input, verification failure */
    CLI_USAGE = 2,    /* bad command line */
    CLI_INTERNAL = 3, /* internal or I/O error, disk full */
    CLI_DAMAGED = 4,  /* the store's file is damaged: restore it (deploy/README.md) */
    CLI_CONTINUE = -1 /* cli_std_opt: not an exit, keep parsing */
};

/* One run of the program. */
typedef struct {
    const char *dir;  /* store directory */
    const char *user; /* author of the changes this run writes */
    const char *cmd;  /* command being run, for messages */
    jp_db_t *db;      /* the open environment; NULL until cli_open */
    jp_node_t node;   /* this store's identity, read by cli_open */
    FILE *msg;        /* where refusals go, bare; NULL: stderr, with the prefix */
    FILE *out;        /* where `add` prints the new id; NULL: stdout */
} cli_t;

/* A command: argv[0] is the command's name. Returns an exit code. */
typedef int (*cli_cmd_fn)(cli_t *c, int argc, char **argv);

int cmd_init(cli_t *c, int argc, char **argv);
int cmd_import(cli_t *c, int argc, char **argv);
int cmd_add(cli_t *c, int argc, char **argv);
int cmd_update(cli_t *c, int argc, char **argv);
int cmd_delete(cli_t *c, int argc, char **argv);
int cmd_find(cli_t *c, int argc, char **argv);
int cmd_show(cli_t *c, int argc, char **argv);
int cmd_log(cli_t *c, int argc, char **argv);
int cmd_verify(cli_t *c, int argc, char **argv);
int cmd_status(cli_t *c, int argc, char **argv);
int cmd_digest(cli_t *c, int argc, char **argv);
int cmd_keys(cli_t *c, int argc, char **argv);
int cmd_unlink(cli_t *c, int argc, char **argv);
int cmd_sync(cli_t *c, int argc, char **argv);
int cmd_run(cli_t *c, int argc, char **argv);
int cmd_backup(cli_t *c, int argc, char **argv);
int cmd_report(cli_t *c, int argc, char **argv);
int cmd_today(cli_t *c, int argc, char **argv);
int cmd_export(cli_t *c, int argc, char **argv);
int cmd_repair(cli_t *c, int argc, char **argv);
int cmd_web(cli_t *c, int argc, char **argv);
int cmd_web_user(cli_t *c, int argc, char **argv);

/* --- messages and exit codes (main.c) --- */

/* Print "jipan-store: <cmd>: <message>" to stderr; returns code. */
int cli_fail(cli_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit code for a JP_E* code: bad input and refusals 1, the rest 3. */
int cli_exit_for(int rc);

/* Report a library failure (err's message, or jp_strerror(rc)) and return
 * its exit code.  JP_EDAMAGED adds what to do: the store's file is named
 * and deploy/README.md's restore section pointed to. */
int cli_fail_err(cli_t *c, int rc, const jp_err_t *err);

/* The same without a message: "<what>: <jp_strerror(rc)>" (what may be
 * NULL). */
int cli_fail_rc(cli_t *c, int rc, const char *what);

/* The crash guard: from here on, SIGSEGV and SIGBUS (and LMDB's own
 * assertions, which abort) end the program with a fixed message that the
 * store's file dir/data.mdb is damaged and exit code CLI_DAMAGED, instead
 * of a core dump.  LMDB keeps no checksums: a damaged page can send it
 * anywhere.  Called by cli_open, once the directory is known. */
void cli_guard(const cli_t *c);

/* The options every command takes: --help, -d/--dir, -u/--user.  Put
 * CLI_STD_LONGOPTS first in the command's table and CLI_STD_SHORT at the
 * start of its short-option string. */
#define CLI_STD_LONGOPTS                                                                 \
    {"help", no_argument, NULL, 'h'}, {"dir", required_argument, NULL, 'd'},             \
    {                                                                                    \
        "user", required_argument, NULL, 'u'                                             \
    }
#define CLI_STD_SHORT ":hd:u:"

/* Start getopt_long over a command's argv (resets getopt's state). */
void cli_getopt_reset(void);

/* Handle option o that the command's switch did not: the standard ones,
 * unknown options and missing values.  Returns CLI_CONTINUE, or the exit
 * code to return now (0 after --help). */
int cli_std_opt(cli_t *c, int o, char **argv, const char *usage);

/* A usage error: the message, a hint to --help; returns CLI_USAGE. */
int cli_usage_error(cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- opening the store (main.c) --- */

/* Open the initialised store in c->dir: the environment, the node, the
 * time zone (nothing to do when c->db is open already).  Prints the
 * failure; returns an exit code. */
int cli_open(cli_t *c);
void cli_close(cli_t *c);

/* The author of changes: -u, else $JIPAN_USER, else the login name. */
const char *cli_author(cli_t *c);

/* Whether the author can go into a change: at most JP_MAX_AUTHOR bytes of
 * text (jp_text_check).  Prints the refusal; returns an exit code.  Every
 * command that writes calls it before opening the store. */
int cli_author_check(cli_t *c);

/* Path of a file in the store directory into out. */
void cli_path(const cli_t *c, const char *file, char *out, size_t cap);

/* Ask the group server (cmd_sync.c): what the store pinned at its first
 * sync, with its own key.  Returns an exit code; on success *body is
 * malloc'd (the caller frees it). */
int cli_ask_server(cli_t *c, const char *what, const char *const *args, int nargs,
                   char **body, size_t *n);

/* The sync lines of `status`: server, acknowledged seq and lag, pull
 * position (cmd_sync.c). */
void cli_sync_status(cli_t *c, jp_txn_t *txn, uint64_t own_seq);

/* --- field values (fields.c) --- */

/* Field values typed on a command line, in the order given. */
typedef struct {
    int n;                                 /* entries used */
    const jp_field_def_t *def[JP_F_COUNT]; /* which field */
    const char *text[JP_F_COUNT];          /* as typed; NULL: --clear */
} cli_fields_t;

/* Storage for values that a change borrows: normalised text, ids. */
typedef struct {
    char norm[JP_F_COUNT][32];        /* normalised phone, ID number, VIN, plate */
    char id_text[JP_ID_TEXT_LEN + 1]; /* default ext_id: the record id */
} cli_valbuf_t;

/* Build a getopt_long table holding CLI_STD_LONGOPTS, extra (terminated by
 * a zero entry) and one option per editable field of any kind, spelled with
 * '_' and with '-'; a field option's val is CLI_FIELD_OPT + field id.
 * Caller frees the result. */
#define CLI_FIELD_OPT 0x1000
struct option *cli_field_longopts(const struct option *extra);

/* Add field f with text (NULL: clear) to fs; a usage error (printed) if
 * the field was already given. */
int cli_fields_add(cli_t *c, cli_fields_t *fs, const jp_field_def_t *f, const char *text);

/* The field called name (with '-' or '_') among the editable ones of any
 * kind, or NULL. */
const jp_field_def_t *cli_field_named(const char *name);

/* Parse every value of fs for a record of kind into ch, exactly as the
 * import does: phone normalised, ID number and VIN checked, times, money,
 * enums by word, references resolved in txn.  Prints the first problem
 * and returns its exit code; 0 when all are good. */
int cli_fields_parse(cli_t *c, jp_txn_t *txn, jp_kind_t kind, const cli_fields_t *fs,
                     cli_valbuf_t *vb, jp_change_t *ch);

/* --- lookups (lookup.c) --- */

/* What a reference on the command line must name. */
typedef enum {
    CLI_REF_CUSTOMER,  /* id, ext:X, phone, ID number, VIN of one of its vehicles */
    CLI_REF_COMPLAINT, /* id, ext:X of a complaint event */
    CLI_REF_ANY,       /* id, ext:X of any record (customer, event, VIN) */
} cli_ref_t;

/* Resolve text to exactly one live record id.  On failure prints
 * "<what>: <reason>" (never the text itself, which may be personal data)
 * and returns the exit code. */
int cli_resolve(cli_t *c, jp_txn_t *txn, cli_ref_t want, const char *what,
                const char *text, jp_id_t *out);

/* The customers the counter's search TEXT names (find's guess: id,
 * ext:X, phone, VIN, plate, else the start of a name), at most cap into
 * ids: a count, or -1 with *ec set to an exit code (the reason printed).
 * cmd_find.c. */
int cli_find_ids(cli_t *c, jp_txn_t *txn, const char *text, jp_id_t *ids, int cap,
                 int *ec);

/* Collect up to cap distinct live customer ids into out from index ix
 * under key (prefix or exact); vehicles and events found there stand for
 * their customers.  Returns the count or a negative JP_E* code. */
int cli_customers_in(jp_txn_t *txn, jp_index_t ix, const char *key, bool prefix,
                     jp_id_t *out, int cap);

/* The customer a record stands for: itself for a customer, its customer
 * for a vehicle or an event.  JP_ENOTFOUND when none. */
int cli_customer_of(jp_txn_t *txn, const jp_id_t *id, jp_id_t *out);

/* A short label for the store that wrote a record: this store's code, or
 * "#N" for another store. */
void cli_store_label(const cli_t *c, uint16_t store, char *out, size_t cap);

/* --- tables (display.c) --- */

/* Columns that print on a terminal cell grid: East Asian wide characters
 * take two cells. */
int cli_width(const char *s);

typedef struct cli_table cli_table_t;
/* A table of ncols columns; headers (ncols strings) is its first row, or
 * NULL for none. */
cli_table_t *cli_table_new(int ncols, const char *const *headers);
void cli_table_destroy(cli_table_t **self_p);
/* Add a row (cells are copied; NULL prints as empty).  struck marks a
 * deleted record. Returns 0 or JP_ENOMEM. */
int cli_table_add(cli_table_t *self, const char *const *cells, bool struck);
/* Print header and rows, columns padded to their widest cell. */
void cli_table_print(const cli_table_t *self, FILE *out);

#endif
