/*
 * cmd_web.c -- web, web-user: the counter's screens in a browser, served
 * by the store's own program on 127.0.0.1 (offline like every store
 * command), and the users who may sign in to them.
 *
 * The pages read the store through the same functions as `find` and
 * `show` (cli_find_ids, the timeline and card class of card.h, jp_val_text
 * that masks phones and ID numbers), and a form writes through the very
 * command the CLI runs: the form's fields become `add service`'s options
 * and cmd_add does the rest, with its messages caught (cli_t.msg) to be
 * shown on the page.  So a visit recorded here is one change, checked and
 * refused exactly as on the command line.  The store's environment stays
 * open for the server's life; the server's one thread runs one page at a
 * time.
 */
#include "ahead.h"
#include "card.h"
#include "i18n.h"
#include "report.h"
#include "stats.h"
#include "web.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "validate.h"

#define S_DEFAULT_PORT 8470
#define S_USERS_FILE "web-users" /* in the store dir, unless --users */
#define S_SEARCH_CAP 50          /* customers listed by a search */
#define S_DUE_SHOWN 100          /* lines of one work-list section on the page */

static const char s_web_usage[] =
    "usage: " CLI_PROG " web [--listen ADDR] [--port N] [--users FILE]\n"
    "\n"
    "Serve the counter's screens (search, the customer's card and timeline,\n"
    "recording a service visit) to a browser, in Chinese (English on the\n"
    "page's switch).  Users sign in with a name and password from the users\n"
    "file (see `" CLI_PROG " web-user --help`).  Runs until SIGINT or SIGTERM.\n"
    "Changes are written with the signed-in user's name as their author.\n"
    "\n"
    "options:\n"
    "  --listen ADDR   IPv4 address to bind (default 127.0.0.1: this PC only)\n"
    "  --port N        TCP port (default 8470; 0: any free port, printed)\n"
    "  --users FILE    users file (default: web-users in the store directory)\n"
    "  -h, --help      this text\n";

static const char s_user_usage[] =
    "usage: " CLI_PROG " web-user add NAME [--role ROLE] [--users FILE]\n"
    "       " CLI_PROG " web-user passwd NAME [--users FILE]\n"
    "       " CLI_PROG " web-user remove NAME [--users FILE]\n"
    "\n"
    "Manage who may sign in to `" CLI_PROG " web`.  The password is read from\n"
    "standard input (one line; not echoed on a terminal) and kept only as an\n"
    "Argon2id hash.  Roles: adviser (the default), manager.\n"
    "\n"
    "options:\n"
    "  --role ROLE    the user's role (add only)\n"
    "  --users FILE   users file (default: web-users in the store directory)\n"
    "  -h, --help     this text\n";

/* The server's state, as the pages see it. */
typedef struct {
    cli_t *c;           /* the store, open */
    cli_ahead_t *ahead; /* the report and work list, computed ahead */
    char msg[1024];     /* the refusal caught from the last command run */
    char made[64];      /* the id of the record it wrote */
} s_app_t;

/* Catch what the next command prints as its refusal into app->msg. */
static int
s_catch(s_app_t *app)
{
    app->msg[0] = '\0';
    app->c->msg = fmemopen(app->msg, sizeof app->msg, "w");
    return app->c->msg ? 0 : JP_ENOMEM;
}

/* Stop catching; app->msg holds the message, without its newline. */
static void
s_caught(s_app_t *app)
{
    if (app->c->msg)
        fclose(app->c->msg);
    app->c->msg = NULL;
    app->msg[sizeof app->msg - 1] = '\0';
    size_t n = strlen(app->msg);
    while (n && app->msg[n - 1] == '\n')
        app->msg[--n] = '\0';
}

/* --- words --- */

#define L(req, zh, en) (jp_web_en(req) ? (en) : (zh))

/* --- layout --- */

static int
s_head(jp_buf_t *b, const jp_web_req_t *req, const char *title)
{
    int rc = jp_web_printf(
        b,
        "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
        "<title>%s</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>"
        "<body><header><nav><a href=\"/\" id=\"nav-search\">%s</a> "
        "<a href=\"/today\" id=\"nav-today\">%s</a> "
        "<a href=\"/report\" id=\"nav-report\">%s</a></nav>"
        "<span class=\"who\">%s (%s)</span>"
        "<span class=\"lang\"><a href=\"/lang?to=zh\">简体中文</a> · "
        "<a href=\"/lang?to=en\">English</a></span>"
        "<form method=\"post\" action=\"/logout\" class=\"logout\">",
        jp_web_en(req) ? "en" : "zh-CN", title, L(req, "客户查询", "Search"),
        L(req, "今日工作", "Today"), L(req, "忠诚度报表", "Report"), jp_web_user(req),
        jp_web_role(req));
    rc |= jp_web_csrf_field(b, req);
    rc |= jp_web_printf(b,
                        "<button type=\"submit\" id=\"logout\">%s</button></form>"
                        "</header><main>",
                        L(req, "退出", "Sign out"));
    return rc;
}

static int
s_foot(jp_buf_t *b)
{
    return jp_web_raw(b, "</main></body></html>");
}

static int
s_search_form(jp_buf_t *b, const jp_web_req_t *req, const char *q)
{
    return jp_web_printf(
        b,
        "<form method=\"get\" action=\"/\" class=\"search\">"
        "<input name=\"q\" id=\"q\" value=\"%s\" placeholder=\"%s\" autofocus>"
        "<button type=\"submit\" id=\"find\">%s</button></form>",
        q ? q : "",
        L(req, "手机号、姓名、身份证号、VIN 或车牌",
          "phone, name, ID number, VIN or plate"),
        L(req, "查询", "Find"));
}

/* A refused form's message: "未保存：" and the command's words. */
static void s_msg_zh(const jp_web_req_t *req, const char *msg, char *out, size_t cap);

static int
s_error(jp_buf_t *b, const jp_web_req_t *req, const char *msg)
{
    char zh[2048];
    s_msg_zh(req, msg, zh, sizeof zh);
    return jp_web_printf(b, "<p class=\"error\" id=\"error\">%s%s</p>",
                         L(req, "未保存：", "Not saved: "), zh);
}

/* --- search --- */

/* One row of the results: name, phone (masked), district, class,
 * vehicles, last visit; the name links to the card. */
static int
s_result_row(s_app_t *app, jp_txn_t *txn, const jp_id_t *id, jp_buf_t *b)
{
    jp_record_t r;
    cli_timeline_t tl = {0};
    char idt[JP_ID_TEXT_LEN + 1], name[256], phone[32], district[128], cls[32];
    char last[17] = "-", store[16];
    int rc = jp_txn_get(txn, id, &r);
    if (rc || (rc = cli_timeline_load(txn, id, false, &tl)))
        return rc;
    jp_id_format(id, idt);
    jp_record_str(&r, JP_F_NAME, name, sizeof name);
    jp_record_str(&r, JP_F_DISTRICT, district, sizeof district);
    phone[0] = '\0';
    if (r.f[JP_F_PHONE].set && r.f[JP_F_PHONE].v.type)
        jp_val_text(jp_field_def(JP_F_PHONE), &r.f[JP_F_PHONE].v, false, phone,
                    sizeof phone);
    cli_card_class(txn, &r, &tl, cls, sizeof cls);
    int64_t lv = cli_last_visit(&tl);
    if (lv != INT64_MIN)
        jp_format_instant(lv, last);
    cli_store_label(app->c, jp_id_store(id), store, sizeof store);
    rc = jp_web_printf(b,
                       "<tr><td><a class=\"open\" href=\"/card?id=%s\">%s</a></td>"
                       "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
                       idt, name[0] ? name : idt, phone, district, cls, last, store);
    cli_timeline_free(&tl);
    return rc;
}

static int
s_page_search(s_app_t *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    jp_buf_t *b = &ans->body;
    const char *q = jp_web_param(req, "q");
    jp_txn_t *txn = NULL;
    jp_id_t *ids = NULL;
    jp_err_t err;
    int rc = s_head(b, req, L(req, "客户查询", "Search"));
    rc |= s_search_form(b, req, q);
    if (rc || !q || !q[0])
        goto done;
    jp_err_clear(&err);
    if (!(ids = calloc(S_SEARCH_CAP, sizeof *ids))) {
        rc = JP_ENOMEM;
        goto done;
    }
    if ((rc = jp_db_begin(app->c->db, false, &txn, &err)))
        goto done;
    int ec = 0;
    if ((rc = s_catch(app)))
        goto done;
    int n = cli_find_ids(app->c, txn, q, ids, S_SEARCH_CAP, &ec);
    s_caught(app);
    if (n < 0) {
        ans->status = 400;
        rc = jp_web_printf(b, "<p class=\"error\" id=\"error\">%s</p>", app->msg);
        goto done;
    }
    if (n == 0) {
        rc = jp_web_printf(b, "<p id=\"none\">%s</p>",
                           L(req, "没有找到客户。", "No customer found."));
        goto done;
    }
    rc = jp_web_printf(b,
                       "<table id=\"results\"><thead><tr><th>%s</th><th>%s</th>"
                       "<th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
                       L(req, "姓名", "name"), L(req, "手机", "phone"),
                       L(req, "区域", "district"), L(req, "客户类别", "class"),
                       L(req, "最近回厂", "last visit"), L(req, "门店", "store"));
    for (int i = 0; i < n && !rc; i++)
        rc = s_result_row(app, txn, &ids[i], b);
    rc |= jp_web_raw(b, "</tbody></table>");
done:
    jp_txn_abort(&txn);
    free(ids);
    rc |= s_foot(b);
    return rc ? JP_ENOMEM : 0;
}

/* --- the card --- */

static int
s_card_row(jp_buf_t *b, const char *label, const char *value)
{
    return jp_web_printf(b, "<tr><th>%s</th><td>%s</td></tr>", label, value);
}

static int
s_card_field(jp_buf_t *b, const char *label, const jp_record_t *r, unsigned fid)
{
    char v[JP_MAX_STR + 1];
    if (!r->f[fid].set || !r->f[fid].v.type)
        return 0;
    jp_val_text(jp_field_def(fid), &r->f[fid].v, false, v, sizeof v);
    return s_card_row(b, label, jp_tr_word(jp_field_def(fid)->name, v));
}

/* The card, as `show` has it (phone and ID number masked). */
static int
s_card(s_app_t *app, jp_txn_t *txn, const jp_web_req_t *req, const jp_record_t *r,
       const cli_timeline_t *tl, jp_buf_t *b)
{
    char v[512], when[17], store[16], cls[32], idt[JP_ID_TEXT_LEN + 1];
    int rc = jp_web_printf(b, "<table class=\"card\" id=\"card\">");
    jp_id_format(&r->id, idt);
    rc |= s_card_row(b, L(req, "客户编号", "customer"), idt);
    rc |= s_card_field(b, L(req, "姓名", "name"), r, JP_F_NAME);
    rc |= s_card_field(b, L(req, "手机", "phone"), r, JP_F_PHONE);
    rc |= s_card_field(b, L(req, "身份证号", "ID number"), r, JP_F_ID_NUMBER);
    rc |= s_card_field(b, L(req, "性别", "gender"), r, JP_F_GENDER);
    rc |= s_card_field(b, L(req, "生日", "birthday"), r, JP_F_BIRTHDAY);
    rc |= s_card_field(b, L(req, "区域", "district"), r, JP_F_DISTRICT);
    rc |= s_card_field(b, L(req, "来源", "source"), r, JP_F_SOURCE);
    rc |= s_card_field(b, L(req, "级别", "grade"), r, JP_F_GRADE);
    cli_card_class(txn, r, tl, cls, sizeof cls);
    rc |= s_card_row(b, L(req, "客户类别", "class"), cls);
    jp_format_instant(jp_record_int(r, JP_F_CREATED_AT, 0), when);
    cli_store_label(app->c, jp_id_store(&r->id), store, sizeof store);
    snprintf(v, sizeof v, "%s %s %s", when, L(req, "于", "at"), store);
    rc |= s_card_row(b, L(req, "建档", "created"), v);
    for (int i = 1; i < tl->nrows; i++) {
        char id[JP_ID_TEXT_LEN + 1];
        jp_id_format(&tl->row[i], id);
        cli_store_label(app->c, jp_id_store(&tl->row[i]), store, sizeof store);
        snprintf(v, sizeof v, "%s %s %s", id, L(req, "于", "at"), store);
        rc |= s_card_row(b, L(req, "同一客户", "same person"), v);
    }
    rc |= s_card_field(b, L(req, "外部编号", "ext id"), r, JP_F_EXT_ID);
    rc |= s_card_field(b, L(req, "备注", "note"), r, JP_F_NOTE);
    rc |= jp_web_raw(b, "</table>");
    return rc;
}

static int
s_vehicles(s_app_t *app, jp_txn_t *txn, const jp_web_req_t *req, const cli_timeline_t *tl,
           jp_buf_t *b)
{
    char vin[32], model[256], plate[64], when[17], store[16];
    int rc = jp_web_printf(
        b,
        "<h2>%s</h2><table id=\"vehicles\"><thead><tr><th>VIN</th>"
        "<th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
        L(req, "车辆", "Vehicles"), L(req, "车型", "model"), L(req, "车牌", "plate"),
        L(req, "交车", "delivered"), L(req, "门店", "store"));
    for (int i = 0; i < tl->n && !rc; i++) {
        jp_record_t r;
        if (tl->e[i].kind != JP_K_VEHICLE || jp_txn_get(txn, &tl->e[i].id, &r) != 0)
            continue;
        jp_record_str(&r, JP_F_VIN, vin, sizeof vin);
        jp_record_str(&r, JP_F_MODEL, model, sizeof model);
        jp_record_str(&r, JP_F_PLATE, plate, sizeof plate);
        jp_format_instant(tl->e[i].at, when);
        when[10] = '\0';
        cli_store_label(app->c, jp_id_store(&tl->e[i].id), store, sizeof store);
        rc = jp_web_printf(
            b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>", vin,
            model, plate, when, store);
    }
    return rc | jp_web_raw(b, "</tbody></table>");
}

static int
s_timeline(s_app_t *app, jp_txn_t *txn, const jp_web_req_t *req, const cli_timeline_t *tl,
           jp_buf_t *b)
{
    char date[17], store[16], details[2048];
    int rc = jp_web_printf(b,
                           "<h2>%s</h2><table id=\"timeline\"><thead><tr><th>%s</th>"
                           "<th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>",
                           L(req, "客户履历（最新在前）", "Timeline (newest first)"),
                           L(req, "时间", "date"), L(req, "门店", "store"),
                           L(req, "类型", "kind"), L(req, "详情", "details"));
    for (int k = tl->n - 1; k >= 0 && !rc; k--) {
        const cli_entry_t *e = &tl->e[k];
        jp_record_t r;
        if (jp_txn_get(txn, &e->id, &r) != 0)
            continue;
        jp_format_instant(e->at, date);
        cli_store_label(app->c, jp_id_store(&e->id), store, sizeof store);
        cli_entry_details(txn, tl, &r, details, sizeof details);
        const char *kind = e->kind == JP_K_VEHICLE
                               ? _("sale")
                               : jp_tr_word("kind", jp_kind_name((jp_kind_t)e->kind));
        rc = jp_web_printf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
                           date, store, kind, details);
    }
    return rc | jp_web_raw(b, "</tbody></table>");
}

/* The form that records a service visit: `add service`'s fields. */
static int
s_service_form(const jp_web_req_t *req, jp_txn_t *txn, const cli_timeline_t *tl,
               const char *cust, const char *error, jp_buf_t *b)
{
    const jp_field_def_t *st = jp_field_def(JP_F_SERVICE_TYPE);
    const char *kept_type = error ? jp_web_param(req, "service_type") : NULL;
    const char *kept_vin = error ? jp_web_param(req, "vin") : NULL;
    char vin[32];
    int rc = jp_web_printf(b, "<h2>%s</h2>",
                           L(req, "登记回厂（维修保养）", "Record a service visit"));
    if (error)
        rc |= s_error(b, req, error);
    rc |= jp_web_printf(b,
                        "<form method=\"post\" action=\"/service\" id=\"service\">"
                        "<input type=\"hidden\" name=\"customer\" value=\"%s\">",
                        cust);
    rc |= jp_web_csrf_field(b, req);
    rc |= jp_web_printf(b, "<label>VIN <select name=\"vin\" id=\"vin\">");
    for (int i = 0; i < tl->n && !rc; i++) {
        jp_record_t r;
        if (tl->e[i].kind != JP_K_VEHICLE || tl->e[i].deleted ||
            jp_txn_get(txn, &tl->e[i].id, &r) != 0)
            continue;
        jp_record_str(&r, JP_F_VIN, vin, sizeof vin);
        rc =
            jp_web_printf(b, "<option value=\"%s\"%s>%s</option>", vin,
                          kept_vin && strcmp(kept_vin, vin) == 0 ? " selected" : "", vin);
    }
    rc |= jp_web_printf(b,
                        "</select></label><label>%s <select name=\"service_type\" "
                        "id=\"service_type\">",
                        L(req, "类型", "type"));
    for (unsigned w = 0; st->words[w] && !rc; w++)
        rc = jp_web_printf(b, "<option value=\"%s\"%s>%s</option>", st->words[w],
                           kept_type && strcmp(kept_type, st->words[w]) == 0 ? " selected"
                                                                             : "",
                           jp_tr_word("service_type", st->words[w]));
    const char *km = error ? jp_web_param(req, "mileage") : NULL;
    const char *amount = error ? jp_web_param(req, "amount") : NULL;
    const char *at = error ? jp_web_param(req, "at") : NULL;
    const char *note = error ? jp_web_param(req, "note") : NULL;
    rc |= jp_web_printf(
        b,
        "</select></label>"
        "<label>%s <input name=\"mileage\" id=\"mileage\" value=\"%s\"></label>"
        "<label>%s <input name=\"amount\" id=\"amount\" value=\"%s\"></label>"
        "<label>%s <input name=\"at\" id=\"at\" value=\"%s\" placeholder=\"%s\"></label>"
        "<label>%s <input name=\"note\" id=\"note\" value=\"%s\"></label>"
        "<button type=\"submit\" id=\"save-service\">%s</button></form>",
        L(req, "里程（公里）", "mileage (km)"), km ? km : "",
        L(req, "金额（元）", "amount (yuan)"), amount ? amount : "", L(req, "时间", "at"),
        at ? at : "",
        L(req, "默认现在，如 2026-03-01T09:30", "now if empty, e.g. 2026-03-01T09:30"),
        L(req, "备注", "note"), note ? note : "", L(req, "保存", "Save"));
    return rc;
}

/* The kinds of event the card's other forms record, in page order. */
static const jp_kind_t s_event_kinds[] = {JP_K_CONTACT,
                                          JP_K_COMPLAINT,
                                          JP_K_COMPLAINT_CONTACT,
                                          JP_K_COMPLAINT_RESOLVED,
                                          JP_K_SURVEY,
                                          JP_K_GRADE,
                                          JP_K_DEFEAT};

/* The fields an event form asks for: the kind's, less what the page
 * supplies (the customer) or `add` fills in (ext_id). */
static bool
s_form_field(jp_kind_t kind, unsigned fid)
{
    return fid != JP_F_DELETED && fid != JP_F_EXT_ID && fid != JP_F_CUSTOMER &&
           fid != JP_F_LINK_A && fid != JP_F_LINK_B &&
           jp_kind_has(kind, jp_field_def(fid));
}

static const char *
s_field_label(const jp_web_req_t *req, unsigned fid)
{
    static const char *const zh[JP_F_COUNT] = {[JP_F_AT] = "时间",
                                               [JP_F_CHANNEL] = "方式",
                                               [JP_F_PURPOSE] = "目的",
                                               [JP_F_SEVERITY] = "严重程度",
                                               [JP_F_SUBJECT] = "投诉对象",
                                               [JP_F_COMPLAINT] = "投诉",
                                               [JP_F_SATISFACTION] = "满意度（1-5）",
                                               [JP_F_REPURCHASE] = "再购意向",
                                               [JP_F_RECOMMEND] = "推荐意向",
                                               [JP_F_REASON] = "战败原因",
                                               [JP_F_GRADE] = "级别",
                                               [JP_F_NOTE] = "备注",
                                               [JP_F_AMOUNT] = "金额（元）"};
    return !jp_web_en(req) && zh[fid] ? zh[fid] : jp_field_def(fid)->name;
}

/* The forms for a contact, a complaint, its first contact and its
 * resolution, a survey, a grade change and a defeat: each one `add KIND`
 * with the kind's fields. */
static int
s_event_forms(const jp_web_req_t *req, jp_txn_t *txn, const cli_timeline_t *tl,
              const char *cust, const char *error, const char *error_kind, jp_buf_t *b)
{
    char when[17], idt[JP_ID_TEXT_LEN + 1];
    int rc = jp_web_printf(b, "<h2>%s</h2>", L(req, "登记其他事件", "Record an event"));
    for (size_t k = 0; k < sizeof s_event_kinds / sizeof s_event_kinds[0] && !rc; k++) {
        jp_kind_t kind = s_event_kinds[k];
        const char *kn = jp_kind_name(kind);
        bool mine = error && error_kind && strcmp(error_kind, kn) == 0;
        rc = jp_web_printf(b,
                           "<details id=\"form-%s\"%s><summary>%s</summary>"
                           "<form method=\"post\" action=\"/event\">"
                           "<input type=\"hidden\" name=\"kind\" value=\"%s\">"
                           "<input type=\"hidden\" name=\"customer\" value=\"%s\">",
                           kn, mine ? " open" : "", jp_tr_word("kind", kn), kn, cust);
        rc |= jp_web_csrf_field(b, req);
        if (mine)
            rc |= s_error(b, req, error);
        for (unsigned fid = 1; fid < JP_F_COUNT && !rc; fid++) {
            const jp_field_def_t *f = jp_field_def(fid);
            if (!s_form_field(kind, fid))
                continue;
            const char *kept = mine ? jp_web_param(req, f->name) : NULL;
            rc = jp_web_printf(b, "<label>%s ", s_field_label(req, fid));
            if (f->words || fid == JP_F_COMPLAINT) {
                rc |= jp_web_printf(b, "<select name=\"%s\" id=\"%s-%s\">", f->name, kn,
                                    f->name);
                if (!((f->required >> kind) & 1u))
                    rc |= jp_web_raw(b, "<option value=\"\"></option>");
                for (unsigned w = 0; f->words && f->words[w] && !rc; w++)
                    rc = jp_web_printf(
                        b, "<option value=\"%s\"%s>%s</option>", f->words[w],
                        kept && strcmp(kept, f->words[w]) == 0 ? " selected" : "",
                        jp_tr_word(f->name, f->words[w]));
                /* A complaint's contact or resolution: one of this
                 * customer's complaints, newest first. */
                for (int i = tl->n - 1; fid == JP_F_COMPLAINT && i >= 0 && !rc; i--) {
                    if (tl->e[i].kind != JP_K_COMPLAINT || tl->e[i].deleted)
                        continue;
                    jp_id_format(&tl->e[i].id, idt);
                    jp_format_instant(tl->e[i].at, when);
                    rc = jp_web_printf(b, "<option value=\"%s\"%s>%s</option>", idt,
                                       kept && strcmp(kept, idt) == 0 ? " selected" : "",
                                       when);
                }
                rc |= jp_web_raw(b, "</select></label>");
            } else {
                rc |= jp_web_printf(
                    b, "<input name=\"%s\" id=\"%s-%s\" value=\"%s\"></label>", f->name,
                    kn, f->name, kept ? kept : "");
            }
        }
        rc |= jp_web_printf(b,
                            "<button type=\"submit\" id=\"save-%s\">%s</button></form>"
                            "</details>",
                            kn, L(req, "保存", "Save"));
    }
    (void)txn;
    return rc;
}

/* The card page of the customer whose id is idtext; error (the refusal
 * of the form for records of kind error_kind) shown over that form, with
 * what was typed kept. */
static int
s_card_page(s_app_t *app, jp_web_req_t *req, const char *idtext, const char *error,
            const char *error_kind, jp_web_answer_t *ans)
{
    jp_buf_t *b = &ans->body;
    cli_timeline_t tl = {0};
    jp_record_t *r = calloc(1, sizeof *r);
    jp_txn_t *txn = NULL;
    jp_err_t err;
    jp_id_t id, cust;
    int rc = s_head(b, req, L(req, "客户卡", "Customer card"));
    if (!r || rc) {
        rc = JP_ENOMEM;
        goto done;
    }
    jp_err_clear(&err);
    if ((rc = jp_db_begin(app->c->db, false, &txn, &err)))
        goto done;
    if (!idtext || strlen(idtext) != JP_ID_TEXT_LEN || jp_id_parse(idtext, &id) != 0 ||
        cli_customer_of(txn, &id, &cust) != 0 || jp_txn_get(txn, &cust, r) != 0 ||
        r->kind != JP_K_CUSTOMER || jp_record_deleted(r)) {
        ans->status = 404;
        rc = jp_web_printf(b, "<p class=\"error\" id=\"error\">%s</p>",
                           L(req, "没有这个客户。", "No such customer."));
        goto done;
    }
    char ct[JP_ID_TEXT_LEN + 1];
    jp_id_format(&cust, ct);
    if ((rc = cli_timeline_load(txn, &cust, false, &tl)))
        goto done;
    if (jp_web_param(req, "saved") && !error)
        rc |= jp_web_printf(b, "<p class=\"ok\" id=\"saved\">%s</p>",
                            L(req, "已保存。", "Saved."));
    rc |= s_search_form(b, req, NULL);
    rc |= s_card(app, txn, req, r, &tl, b);
    rc |= s_vehicles(app, txn, req, &tl, b);
    bool service_err = error && error_kind && strcmp(error_kind, "service") == 0;
    rc |= s_service_form(req, txn, &tl, ct, service_err ? error : NULL, b);
    rc |= s_event_forms(req, txn, &tl, ct, service_err ? NULL : error, error_kind, b);
    rc |= s_timeline(app, txn, req, &tl, b);
    if (rc)
        rc = JP_ENOMEM;
done:
    cli_timeline_free(&tl);
    jp_txn_abort(&txn);
    free(r);
    if (s_foot(b) && !rc)
        rc = JP_ENOMEM;
    return rc;
}

/* --- the command line's messages, in Chinese --- */

/* Chinese for an option's field: the form's own label. */
static const char *
s_opt_zh(const char *opt, size_t n)
{
    static const char *const names[][2] = {{"customer", "客户"},
                                           {"vin", "VIN"},
                                           {"service-type", "类型"},
                                           {"service_type", "类型"},
                                           {"mileage", "里程"},
                                           {"amount", "金额"},
                                           {"at", "时间"},
                                           {"note", "备注"},
                                           {"channel", "方式"},
                                           {"purpose", "目的"},
                                           {"severity", "严重程度"},
                                           {"subject", "投诉对象"},
                                           {"complaint", "投诉"},
                                           {"satisfaction", "满意度"},
                                           {"repurchase", "再购意向"},
                                           {"recommend", "推荐意向"},
                                           {"reason", "战败原因"},
                                           {"grade", "级别"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i][0]) == n && strncmp(names[i][0], opt, n) == 0)
            return names[i][1];
    }
    return NULL;
}

/* The reasons the checks give, in Chinese: exact words, or a prefix
 * whose rest is kept (a range, a list of words). */
static const char *const s_reasons[][2] = {
    {"must be a whole number", "须为整数"},
    {"must be one of ", "须为以下之一："},
    {"date must be YYYY-MM-DD", "日期须为 YYYY-MM-DD"},
    {"instant must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fff]] with an optional Z or "
     "+HH:MM",
     "时间须为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM，可带 Z 或 +HH:MM"},
    {"instant is out of range", "时间超出范围"},
    {"day does not exist in that month", "该月没有这一天"},
    {"amount must not be negative", "金额不能为负"},
    {"amount must be yuan with up to 2 decimals, like 1234.56",
     "金额须以元为单位，最多两位小数，如 1234.56"},
    {"amount may have at most 2 decimals", "金额最多两位小数"},
    {"before the complaint was opened", "早于投诉时间"},
    {"that complaint is another customer's", "该投诉属于另一位客户"},
    {"no vehicle has that VIN", "没有车辆使用这个 VIN"},
    {"no record with that id", "没有这个编号的记录"},
    {"that record is deleted", "该记录已删除"},
};

/* A refusal of `add` for the page: in Chinese where its words are known
 * ("里程：须为整数"), followed by the command line's own words, which stay
 * the reference (and the whole message when nothing is known). */
static void
s_msg_zh(const jp_web_req_t *req, const char *msg, char *out, size_t cap)
{
    const char *field = NULL, *rest = msg;
    char kind_field[128] = "";
    snprintf(out, cap, "%s", msg);
    if (jp_web_en(req))
        return;
    if (strncmp(msg, "--", 2) == 0) {
        size_t n = strcspn(msg + 2, ": ");
        if (msg[2 + n] == ':' && msg[3 + n] == ' ') {
            field = s_opt_zh(msg + 2, n);
            rest = msg + n + 4;
        }
    } else if (strncmp(msg, "a ", 2) == 0 && strstr(msg, " needs --")) {
        /* "a service needs --vin" */
        const char *k = msg + 2, *e = strstr(msg, " needs --");
        char kn[32];
        snprintf(kn, sizeof kn, "%.*s", (int)(e - k), k);
        const char *f = s_opt_zh(e + 9, strlen(e + 9));
        if (f) {
            snprintf(kind_field, sizeof kind_field, "登记%s须填写%s",
                     jp_tr_word("kind", kn), f);
            snprintf(out, cap, "%s（%s）", kind_field, msg);
        }
        return;
    }
    long long lo, hi;
    char tail;
    if (sscanf(rest, "must be between %lld and %lld%c", &lo, &hi, &tail) == 2) {
        snprintf(out, cap, "%s%s须在 %lld 到 %lld 之间（%s）", field ? field : "",
                 field ? "：" : "", lo, hi, msg);
        return;
    }
    for (size_t i = 0; i < sizeof s_reasons / sizeof s_reasons[0]; i++) {
        size_t n = strlen(s_reasons[i][0]);
        bool prefix = s_reasons[i][0][n - 1] == ' ';
        if (prefix ? strncmp(rest, s_reasons[i][0], n) != 0
                   : strcmp(rest, s_reasons[i][0]) != 0)
            continue;
        snprintf(out, cap, "%s%s%s%s（%s）", field ? field : "", field ? "：" : "",
                 s_reasons[i][1], prefix ? rest + n : "", msg);
        return;
    }
}

/* --- writing: the CLI's own command --- */

/* Run `add KIND` with the options --names[i]=values[i] (NULL or empty
 * values left out, as an option not typed), as the signed-in user.  The
 * refusal, if any, in app->msg; the new record's id, which `add` prints,
 * in app->made.  Returns the exit code. */
static int
s_run_add(s_app_t *app, const jp_web_req_t *req, const char *kind,
          const char *const *names, const char *const *values, int n)
{
    char *argv[2 + JP_F_COUNT + 1] = {0};
    char *owned[JP_F_COUNT] = {0}; /* getopt permutes argv: free from here */
    int argc = 0, nowned = 0, ec = CLI_INTERNAL;
    app->made[0] = '\0';
    argv[argc++] = "add";
    argv[argc++] = (char *)kind;
    for (int i = 0; i < n && nowned < JP_F_COUNT; i++) {
        const char *v = values[i];
        if (!v || !v[0])
            continue;
        size_t len = strlen(names[i]) + strlen(v) + 4;
        if (!(argv[argc] = owned[nowned++] = malloc(len)))
            goto done;
        /* --name=value: the value can never be taken for an option. */
        snprintf(argv[argc], len, "--%s=%s", names[i], v);
        argc++;
    }
    FILE *out = fmemopen(app->made, sizeof app->made, "w");
    if (!out)
        goto done;
    /* The command's own words, in English whatever the process's locale:
     * s_msg_zh() puts them in the page's language and keeps them beside. */
    locale_t c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    locale_t was = c_loc ? uselocale(c_loc) : (locale_t)0;
    if (s_catch(app)) {
        if (c_loc)
            uselocale(was), freelocale(c_loc);
        fclose(out);
        goto done;
    }
    app->c->out = out;
    app->c->user = jp_web_user(req);
    app->c->cmd = "add";
    ec = cmd_add(app->c, argc, argv);
    if (c_loc)
        uselocale(was), freelocale(c_loc);
    s_caught(app);
    app->c->out = NULL;
    app->c->user = NULL;
    fclose(out);
    app->made[strcspn(app->made, "\n")] = '\0';
    if (ec == CLI_OK && strlen(app->made) != JP_ID_TEXT_LEN)
        ec = CLI_INTERNAL; /* `add` always prints the id it wrote */
    if (ec == CLI_OK && app->ahead)
        cli_ahead_poke(app->ahead); /* the report and today's list, again */
done:
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    return ec;
}

static int
s_post_service(s_app_t *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    static const char *const fields[] = {"customer", "vin", "service_type", "mileage",
                                         "amount",   "at",  "note"};
    const char *cust = jp_web_param(req, "customer");
    const char *values[7];
    for (int i = 0; i < 7; i++)
        values[i] = jp_web_param(req, fields[i]);
    int ec = s_run_add(app, req, "service", fields, values, 7);
    if (ec == CLI_OK) {
        /* The visit's own id opens its customer's card: what was typed
         * (which may be a phone) never goes into the address. */
        ans->status = 303;
        snprintf(ans->location, sizeof ans->location, "/card?id=%s&saved=1", app->made);
        return 0;
    }
    int rc = s_card_page(app, req, cust,
                         app->msg[0] ? app->msg : L(req, "内部错误", "internal error"),
                         "service", ans);
    if (!ans->status)
        ans->status = ec == CLI_INTERNAL ? 500 : 422;
    return rc;
}

/* An event form: `add KIND` with the kind's fields as typed. */
static int
s_post_event(s_app_t *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *kn = jp_web_param(req, "kind");
    const char *cust = jp_web_param(req, "customer");
    const char *names[JP_F_COUNT], *values[JP_F_COUNT];
    jp_kind_t kind = JP_K_NONE;
    int n = 0;
    for (size_t k = 0; kn && k < sizeof s_event_kinds / sizeof s_event_kinds[0]; k++) {
        if (strcmp(kn, jp_kind_name(s_event_kinds[k])) == 0)
            kind = s_event_kinds[k];
    }
    if (kind == JP_K_NONE) {
        ans->status = 400;
        ans->type = "text/plain; charset=utf-8";
        return jp_web_raw(&ans->body, L(req, "这个表单不能登记这种记录",
                                        "not a kind of record this form writes"));
    }
    names[n] = "customer";
    values[n++] = cust;
    for (unsigned fid = 1; fid < JP_F_COUNT; fid++) {
        if (!s_form_field(kind, fid))
            continue;
        names[n] = jp_field_def(fid)->name;
        values[n] = jp_web_param(req, names[n]);
        n++;
    }
    int ec = s_run_add(app, req, jp_kind_name(kind), names, values, n);
    if (ec == CLI_OK) {
        ans->status = 303;
        snprintf(ans->location, sizeof ans->location, "/card?id=%s&saved=1", app->made);
        return 0;
    }
    int rc = s_card_page(app, req, cust,
                         app->msg[0] ? app->msg : L(req, "内部错误", "internal error"),
                         jp_kind_name(kind), ans);
    if (!ans->status)
        ans->status = ec == CLI_INTERNAL ? 500 : 422;
    return rc;
}

/* --- today's work list --- */

static int
s_page_today(s_app_t *app, jp_web_req_t *req, const char *error, jp_web_answer_t *ans)
{
    jp_buf_t *b = &ans->body;
    const cli_ahead_snap_t *snap = NULL;
    jp_err_t err;
    char day[11], phone[32], det[256], cust[JP_ID_TEXT_LEN + 1], rec[JP_ID_TEXT_LEN + 1];
    int rc = s_head(b, req, L(req, "今日工作", "Today"));
    if (rc) {
        rc = JP_ENOMEM;
        goto done;
    }
    jp_err_clear(&err);
    if ((rc = cli_ahead_take(app->ahead, &snap, &err))) {
        rc = s_error(b, req, err.msg) ? JP_ENOMEM : 0;
        goto done;
    }
    const jp_worklist_t *w = &snap->work;
    jp_format_date(w->today, day);
    if (error)
        rc |= s_error(b, req, error);
    else if (jp_web_param(req, "saved"))
        rc |= jp_web_printf(b, "<p class=\"ok\" id=\"saved\">%s</p>",
                            L(req, "已记录联系。", "Contact recorded."));
    rc |=
        jp_web_printf(b, "<h1>%s %s</h1><p id=\"count\">%s %zu</p>",
                      L(req, "今日工作", "Work list"), day, L(req, "共", "items:"), w->n);
    for (int k = 0; k < JP_DUE_KINDS && !rc; k++) {
        if (!w->count[k])
            continue;
        rc = jp_web_printf(b,
                           "<h2>%s (%zu)</h2><table id=\"due-%s\"><thead><tr><th>%s</th>"
                           "<th>%s</th><th>%s</th><th>VIN</th><th>%s</th><th></th></tr>"
                           "</thead><tbody>",
                           jp_tr(jp_due_title((jp_due_kind_t)k)), w->count[k],
                           jp_due_name((jp_due_kind_t)k), L(req, "到期", "due"),
                           L(req, "客户", "customer"), L(req, "手机", "phone"),
                           L(req, "详情", "details"));
        size_t shown = 0;
        for (size_t i = 0; i < w->n && !rc && shown < S_DUE_SHOWN; i++) {
            const jp_due_t *d = &w->items[i];
            if (d->kind != k)
                continue;
            shown++;
            jp_format_date(d->due_day, day);
            phone[0] = '\0';
            if (d->phone[0])
                jp_phone_mask(d->phone, phone, sizeof phone);
            jp_due_details_tr(d, det, sizeof det);
            jp_id_format(&d->customer, cust);
            jp_id_format(&d->record, rec);
            rc = jp_web_printf(
                b,
                "<tr><td>%s</td><td><a href=\"/card?id=%s\">%s</a></td>"
                "<td>%s</td><td>%s</td><td>%s</td><td>"
                "<form method=\"post\" action=\"/today/done\" class=\"done\">"
                "<input type=\"hidden\" name=\"kind\" value=\"%d\">"
                "<input type=\"hidden\" name=\"customer\" value=\"%s\">"
                "<input type=\"hidden\" name=\"record\" value=\"%s\">",
                day, cust, d->name, phone, d->vin, det, k, cust, rec);
            rc |= jp_web_csrf_field(b, req);
            rc |= jp_web_printf(b, "<button type=\"submit\">%s</button></form></td></tr>",
                                L(req, "已电话联系", "Called"));
        }
        rc |= jp_web_raw(b, "</tbody></table>");
        if (w->count[k] > shown)
            rc |= jp_web_printf(b, "<p class=\"more\">%s %zu %s %zu %s</p>",
                                L(req, "显示前", "the first"), shown,
                                L(req, "条，共", "of"), w->count[k],
                                L(req, "条（完整清单：jipan-store today）",
                                  "(the whole list: jipan-store today)"));
    }
    if (rc)
        rc = JP_ENOMEM;
done:
    cli_ahead_give(app->ahead, &snap);
    if (s_foot(b) && !rc)
        rc = JP_ENOMEM;
    return rc;
}

/* A call of the work list made: the contact it asks for, written by
 * `add` -- a complaint's first contact for a complaint, else a phone
 * contact of the customer whose purpose is the item's kind. */
static int
s_post_done(s_app_t *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *kind = jp_web_param(req, "kind");
    int64_t k;
    const char *why;
    int ec;
    if (!kind || jp_parse_int(kind, strlen(kind), 0, JP_DUE_KINDS - 1, &k, &why) != 0)
        return s_page_today(app, req, L(req, "工作项类型无效", "not a work-list kind"),
                            ans);
    if (k == JP_DUE_COMPLAINT) {
        static const char *const names[] = {"complaint", "channel"};
        const char *values[] = {jp_web_param(req, "record"), "phone"};
        ec = s_run_add(app, req, "complaint_contact", names, values, 2);
    } else {
        static const char *const names[] = {"customer", "channel", "purpose"};
        const char *values[] = {jp_web_param(req, "customer"), "phone",
                                jp_due_name((jp_due_kind_t)k)};
        ec = s_run_add(app, req, "contact", names, values, 3);
    }
    if (ec == CLI_OK) {
        ans->status = 303;
        snprintf(ans->location, sizeof ans->location, "/today?saved=1");
        return 0;
    }
    int rc = s_page_today(
        app, req, app->msg[0] ? app->msg : L(req, "内部错误", "internal error"), ans);
    if (!ans->status)
        ans->status = ec == CLI_INTERNAL ? 500 : 422;
    return rc;
}

/* --- the loyalty report --- */

/* A figure's value and "num / den", as the text report writes them. */
static void
s_fig_text(const jp_figure_t *f, char *value, size_t vcap, char *of, size_t ocap)
{
    of[0] = '\0';
    if (f->type == JP_FIG_RATE) {
        jp_format_hundredths(f->rate.pct, f->rate.den == 0, value, vcap);
        if (f->rate.den)
            snprintf(value + strlen(value), vcap - strlen(value), "%%");
        snprintf(of, ocap, "%lld / %lld", (long long)f->rate.num, (long long)f->rate.den);
    } else if (f->type == JP_FIG_FIXED) {
        jp_format_hundredths(f->fixed.v, f->fixed.na, value, vcap);
    } else if (f->type == JP_FIG_MONEY) {
        char m[24];
        jp_format_money(f->count, m);
        snprintf(value, vcap, "%s", m);
    } else {
        snprintf(value, vcap, "%lld", (long long)f->count);
    }
}

static int
s_page_report(s_app_t *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    static const char *const sections[] = {
        "base", "loyalty", "retention", "complaints", "referrals", "funnel", "follow_up"};
    jp_buf_t *b = &ans->body;
    const cli_ahead_snap_t *snap = NULL;
    jp_figure_t *f = NULL;
    jp_err_t err;
    char when[48], value[48], of[64];
    int rc = s_head(b, req, L(req, "忠诚度报表", "Loyalty report"));
    if (rc) {
        rc = JP_ENOMEM;
        goto done;
    }
    jp_err_clear(&err);
    if ((rc = cli_ahead_take(app->ahead, &snap, &err))) {
        rc = s_error(b, req, err.msg) ? JP_ENOMEM : 0;
        goto done;
    }
    const jp_stats_t *st = &snap->stats;
    size_t n = jp_stats_figures(st, NULL, 0);
    if (!(f = calloc(n ? n : 1, sizeof *f))) {
        rc = JP_ENOMEM;
        goto done;
    }
    jp_stats_figures(st, f, n);
    jp_format_iso(st->asof, when, sizeof when);
    rc = jp_web_printf(b, "<h1>%s %s</h1><p>%s %s</p>",
                       L(req, "忠诚度报表", "Loyalty report"), app->c->node.code,
                       L(req, "截至", "as of"), when);
    for (size_t k = 0; k < sizeof sections / sizeof sections[0] && !rc; k++) {
        rc = jp_web_printf(b, "<h2>%s</h2><table class=\"report\" id=\"fig-%s\"><tbody>",
                           jp_tr(jp_section_title(sections[k])), sections[k]);
        for (size_t i = 0; i < n && !rc; i++) {
            if (strcmp(f[i].section, sections[k]) != 0)
                continue;
            s_fig_text(&f[i], value, sizeof value, of, sizeof of);
            rc = jp_web_printf(b,
                               "<tr><th>%s</th><td class=\"num\">%s</td><td>%s</td></tr>",
                               jp_tr(f[i].label), value, of);
        }
        rc |= jp_web_raw(b, "</tbody></table>");
    }
    if (rc)
        rc = JP_ENOMEM;
done:
    cli_ahead_give(app->ahead, &snap);
    free(f);
    if (s_foot(b) && !rc)
        rc = JP_ENOMEM;
    return rc;
}

static int
s_route(s_app_t *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *path = jp_web_path(req);
    bool post = strcmp(jp_web_method(req), "POST") == 0;
    if (strcmp(path, "/") == 0 && !post)
        return s_page_search(app, req, ans);
    if (strcmp(path, "/card") == 0 && !post)
        return s_card_page(app, req, jp_web_param(req, "id"), NULL, NULL, ans);
    if (strcmp(path, "/service") == 0 && post)
        return s_post_service(app, req, ans);
    if (strcmp(path, "/event") == 0 && post)
        return s_post_event(app, req, ans);
    if (strcmp(path, "/report") == 0 && !post)
        return s_page_report(app, req, ans);
    if (strcmp(path, "/today") == 0 && !post)
        return s_page_today(app, req, NULL, ans);
    if (strcmp(path, "/today/done") == 0 && post)
        return s_post_done(app, req, ans);
    ans->status = 404;
    ans->type = "text/plain; charset=utf-8";
    return jp_web_raw(&ans->body, L(req, "没有这个页面", "not found"));
}

/* The pages (web.c makes each in its reader's language). */
static int
s_page(void *cls, jp_web_req_t *req, jp_web_answer_t *ans)
{
    return s_route(cls, req, ans);
}

static const char s_css[] =
    "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;margin:0;"
    "color:#222;background:#f6f7f9}"
    "header{display:flex;gap:1.5em;align-items:center;background:#1f3a5f;color:#fff;"
    "padding:.5em 1em}header a{color:#fff}header form{margin:0}"
    "main{padding:1em 1.5em;max-width:70em}"
    "table{border-collapse:collapse;background:#fff;margin:.5em 0}"
    "th,td{border:1px solid #ccd;padding:.25em .6em;text-align:left;vertical-align:top}"
    "table.card th{background:#eef1f5;width:8em}"
    "table.report "
    "th{white-space:pre;font-weight:normal;min-width:20em}td.num{text-align:right}"
    "form label{display:inline-block;margin:.3em 1em .3em 0}"
    ".error{color:#a00;background:#fee;border:1px solid #e99;padding:.5em}"
    ".ok{color:#060;background:#efe;border:1px solid #9c9;padding:.5em}"
    "form.search input{width:24em;font-size:1.1em}"
    "details{background:#fff;border:1px solid #ccd;margin:.3em 0;padding:.3em .6em}"
    "summary{cursor:pointer;font-weight:bold}"
    "body.login main{max-width:22em;margin:4em auto;background:#fff;padding:2em;"
    "border:1px solid #ccd}body.login label{display:block}";

static const struct jp_web_static s_statics[] = {
    {"/static/style.css", "text/css; charset=utf-8", s_css},
    {NULL, NULL, NULL},
};

int
cmd_web(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"listen", required_argument, NULL, 'l'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"users", required_argument, NULL, 'U'},
                                         {NULL, 0, NULL, 0}};
    const char *listen = "127.0.0.1", *users = NULL;
    char users_buf[4096], title[256];
    int64_t port = S_DEFAULT_PORT;
    const char *reason;
    s_app_t app = {.c = c};
    jp_web_t *web = NULL;
    jp_err_t err;
    int o, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'l')
            listen = optarg;
        else if (o == 'U')
            users = optarg;
        else if (o == 'p' &&
                 jp_parse_int(optarg, strlen(optarg), 0, 65535, &port, &reason) != 0)
            ec = cli_usage_error(c, "--port: %s", reason);
        else if (o != 'p')
            ec = cli_std_opt(c, o, argv, s_web_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind != argc)
        return cli_usage_error(c, "web takes no arguments");
    if ((ec = cli_open(c)))
        return ec;
    /* As `report` and `today`: the group's zone when the store names none. */
    if (!c->node.tz[0] && jp_tz_set("Asia/Shanghai") != 0)
        return cli_fail(c, CLI_INTERNAL, "unknown time zone Asia/Shanghai");
    if (!users) {
        cli_path(c, S_USERS_FILE, users_buf, sizeof users_buf);
        users = users_buf;
    }
    if (access(users, R_OK) != 0)
        return cli_fail(c, CLI_REFUSED,
                        "%s: no users file (add a user with `" CLI_PROG " web-user add`)",
                        users);
    snprintf(title, sizeof title, "%s %s", c->node.name, c->node.code);
    jp_web_conf_t conf = {.listen = listen,
                          .port = (uint16_t)port,
                          .users_path = users,
                          .title = title,
                          .page = s_page,
                          .app = &app,
                          .statics = s_statics};
    jp_err_clear(&err);
    /* SIGINT and SIGTERM blocked before the server's thread starts (it
     * inherits the mask), so that they reach this thread's wait. */
    jp_web_signals_block();
    /* After the signal mask: the figures' thread must not take SIGTERM. */
    int rc = cli_ahead_start(&app.ahead, c->db, c->node.store, &err);
    if (!rc && (rc = jp_web_start(&conf, &web, &err)) != 0)
        cli_ahead_stop(&app.ahead);
    if (rc)
        return cli_fail_err(c, rc, &err);
    printf("serving %s on http://%s:%u/\n", c->node.code, listen, jp_web_port(web));
    fflush(stdout);
    if (!jp_i18n_zh_ok())
        fprintf(stderr,
                CLI_PROG ": web: no zh_CN.UTF-8 locale on this machine: the "
                         "pages' figures and titles stay in English (deploy/README.md, "
                         "\"Chinese\")\n");
    jp_web_signals_wait();
    jp_web_stop(&web);
    cli_ahead_stop(&app.ahead);
    return CLI_OK;
}

int
cmd_web_user(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"role", required_argument, NULL, 'r'},
                                         {"users", required_argument, NULL, 'U'},
                                         {NULL, 0, NULL, 0}};
    const char *role = "adviser", *users = NULL;
    char users_buf[4096], pass[JP_WEB_PASS_MAX + 2];
    jp_err_t err;
    int o, rc, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'r')
            role = optarg;
        else if (o == 'U')
            users = optarg;
        else
            ec = cli_std_opt(c, o, argv, s_user_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind != argc - 2)
        return cli_usage_error(c, "give add, passwd or remove, and a user name");
    const char *verb = argv[optind], *name = argv[optind + 1];
    if (strcmp(verb, "add") && strcmp(verb, "passwd") && strcmp(verb, "remove"))
        return cli_usage_error(c, "unknown action '%.20s' (add, passwd or remove)", verb);
    if (strcmp(role, "adviser") && strcmp(role, "manager"))
        return cli_usage_error(c, "--role: adviser or manager");
    if (!users) {
        cli_path(c, S_USERS_FILE, users_buf, sizeof users_buf);
        users = users_buf;
    }
    jp_err_clear(&err);
    if (strcmp(verb, "remove") == 0) {
        rc = jp_web_user_remove(users, name, &err);
    } else {
        if (jp_web_read_password(pass, sizeof pass, &err))
            return cli_fail(c, CLI_REFUSED, "%s", err.msg);
        rc = strcmp(verb, "add") == 0 ? jp_web_user_add(users, name, role, pass, &err)
                                      : jp_web_user_passwd(users, name, pass, &err);
        explicit_bzero(pass, sizeof pass);
    }
    if (rc)
        return cli_fail_err(c, rc, &err);
    printf("%s: %s %s\n", users, verb, name);
    return CLI_OK;
}
