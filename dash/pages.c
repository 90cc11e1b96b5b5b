/*
 * pages.c -- the dashboard's pages: a scope's monthly report (its figures
 * with numerator, denominator and rate, the regional table, the trends as
 * charts, the drill-down to its regions or stores), the churn warning
 * list, the cohort filter as a form, the month-by-month table, and the
 * downloads of every table as CSV and Excel.
 *
 * A page asks the server for what it shows, with the scope in its address
 * (?s=group, region:惠州, store:3) passed on as it is: the server decides
 * whether the key may read it, and a refusal is the page's 403.  The
 * series, the one slow question (a computation per month at the server),
 * is asked by the chart's script after the page has shown, and kept here
 * for a few minutes per scope.
 */
#include "dash.h"

#include "i18n.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define L(req, zh, en) (jp_web_en(req) ? (en) : (zh))
#define S_AT_RISK_SHOWN 500 /* owners the churn list's page shows */
#define S_AT_RISK_PART                                                                   \
    "5000" /* owners a download asks for at once (an answer is                           \
              one frame of at most 4 MiB) */

/* The figures the charts draw and the page's trend table lists. */
static const char *const s_trend_keys[] = {"base.customers",
                                           "base.owners",
                                           "base.owner_class.loyal",
                                           "base.owner_class.effective",
                                           "retention.first_maintenance_return",
                                           "retention.six_month_return",
                                           "retention.retention_12m",
                                           "retention.churn",
                                           "complaints.contact_1h",
                                           "complaints.resolution",
                                           "follow_up.day3",
                                           "follow_up.day7",
                                           "loyalty.satisfaction.csat",
                                           "loyalty.loyalty_index.value",
                                           "loyalty.repeat_purchase",
                                           NULL};

/* --- asking, and what a refusal looks like --- */

typedef struct {
    int status;     /* HTTP status of the failure: 403, 400, 503 */
    char msg[1024]; /* in the reader's words, the server's after them */
} s_fail_t;

static void s_refusal(const jp_web_req_t *req, int rc, const jp_err_t *err, s_fail_t *f);

static int
s_ask(dash_t *d, const jp_web_req_t *req, const char *what, const char *const *args,
      int n, json_t **out, s_fail_t *f)
{
    jp_err_t err;
    jp_err_clear(&err);
    int rc = dash_ask(d, what, args, n, out, &err);
    if (rc)
        s_refusal(req, rc, &err, f);
    return rc;
}

/* What the server's refusal rc (err) is, in the reader's words. */
static void
s_refusal(const jp_web_req_t *req, int rc, const jp_err_t *err, s_fail_t *f)
{
    f->status = rc == JP_EPERM ? 403 : rc == JP_EINVAL ? 400 : 503;
    snprintf(f->msg, sizeof f->msg, "%s（%s）",
             rc == JP_EPERM
                 ? L(req, "无权查看：此账号的密钥不能读取这个范围",
                     "Not allowed: this dashboard's key may not read that scope")
             : rc == JP_EINVAL
                 ? L(req, "请求无效", "Not a valid request")
                 : L(req, "集团服务器没有应答", "The group server did not answer"),
             err->msg);
}

/* The series of scope s (kept by ask.c for a few minutes).  Borrowed:
 * valid until the next question. */
static int
s_series_of(dash_t *d, const jp_web_req_t *req, const char *s, const json_t **out,
            s_fail_t *f)
{
    jp_err_t err;
    jp_err_clear(&err);
    int rc = dash_series(d, s, out, &err);
    if (rc)
        s_refusal(req, rc, &err, f);
    return rc;
}

/* s percent-encoded for an address's query (all but A-Z a-z 0-9 - . _ ~
 * and ':'), in one of a few rotating buffers: valid for the next seven
 * calls (pages run on one thread). */
static const char *
s_u(const char *s)
{
    static char buf[8][1024];
    static int k;
    char *o = buf[k = (k + 1) % 8];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : "");
         *p && n + 4 < sizeof buf[0]; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~:", *p))
            o[n++] = (char)*p;
        else
            n += (size_t)snprintf(o + n, 4, "%%%02X", *p);
    }
    o[n] = '\0';
    return o;
}

/* --- layout --- */

/* Words for a scope: "集团", "区域 惠州", "门店 HZ01 惠州1号店". */
static void
s_scope_name(const dash_t *d, const jp_web_req_t *req, const char *s, char *out,
             size_t cap)
{
    unsigned st;
    if (!strcmp(s, "group")) {
        snprintf(out, cap, "%s", L(req, "集团", "Group"));
    } else if (!strncmp(s, "region:", 7)) {
        snprintf(out, cap, "%s %s", L(req, "区域", "Region"), s + 7);
    } else if (sscanf(s, "store:%u", &st) == 1 && st <= 65535) {
        const dash_store_t *x = dash_store_get(d, (uint16_t)st);
        snprintf(out, cap, "%s %s %s", L(req, "门店", "Store"), x ? x->code : s + 6,
                 x ? x->name : "");
    } else {
        snprintf(out, cap, "%s", s);
    }
}

/* The region of scope s: its own, or its store's ("" for the group). */
static const char *
s_region_of(const dash_t *d, const char *s)
{
    unsigned st;
    if (!strncmp(s, "region:", 7))
        return s + 7;
    if (sscanf(s, "store:%u", &st) == 1 && st <= 65535) {
        const dash_store_t *x = dash_store_get(d, (uint16_t)st);
        return x ? x->region : "";
    }
    return "";
}

/* Whether this key reads region r's page (its own region, or the group). */
static bool
s_reads_region(const dash_t *d, const char *r)
{
    const char *own = dash_own_scope(d);
    return dash_reads_group(d) || (!strncmp(own, "region:", 7) && !strcmp(own + 7, r));
}

static int
s_head(dash_t *d, jp_buf_t *b, const jp_web_req_t *req, const char *title, const char *s)
{
    char name[256];
    int rc = jp_web_printf(
        b,
        "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
        "<title>%s</title><link rel=\"stylesheet\" href=\"/static/dash.css\">"
        "<script src=\"/static/chart.js\" defer></script>"
        "<script src=\"/static/dash.js\" defer></script></head>"
        "<body><header><nav class=\"crumbs\" id=\"crumbs\"><a href=\"/\" "
        "id=\"nav-home\">%s</a>",
        jp_web_en(req) ? "en" : "zh-CN", title, L(req, "集团驾驶舱", "Dashboard"));
    /* The drill-down path: group > region > store, each a link the key may
     * follow. */
    if (s && !rc) {
        const char *region = s_region_of(d, s);
        if (dash_reads_group(d))
            rc |= jp_web_printf(b,
                                " › <a href=\"/scope?s=group\" id=\"crumb-group\">%s</a>",
                                L(req, "集团", "Group"));
        if (region[0] && s_reads_region(d, region))
            rc |= jp_web_printf(
                b, " › <a href=\"/scope?s=region:%s\" id=\"crumb-region\">%s %s</a>",
                region, L(req, "区域", "Region"), region);
        if (!strncmp(s, "store:", 6)) {
            s_scope_name(d, req, s, name, sizeof name);
            rc |= jp_web_printf(b, " › <a href=\"/scope?s=%s\" id=\"crumb-store\">%s</a>",
                                s, name);
        }
    }
    rc |= jp_web_printf(b,
                        "</nav><span class=\"who\">%s (%s)</span>"
                        "<span class=\"lang\"><a href=\"/lang?to=zh\">简体中文</a> · "
                        "<a href=\"/lang?to=en\">English</a></span>"
                        "<form method=\"post\" action=\"/logout\" class=\"logout\">",
                        jp_web_user(req), jp_web_role(req));
    rc |= jp_web_csrf_field(b, req);
    rc |= jp_web_printf(b,
                        "<button type=\"submit\" id=\"logout\">%s</button></form>"
                        "</header><main>",
                        L(req, "退出", "Sign out"));
    return rc ? JP_ENOMEM : 0;
}

static int
s_foot(jp_buf_t *b)
{
    return jp_web_raw(b, "</main></body></html>") ? JP_ENOMEM : 0;
}

/* A refusal or failure as a page of its own. */
static int
s_fail_page(dash_t *d, const jp_web_req_t *req, const s_fail_t *f, jp_web_answer_t *ans)
{
    jp_buf_reset(&ans->body);
    ans->status = f->status;
    int rc = s_head(d, &ans->body, req, L(req, "无法显示", "Cannot show"), NULL);
    rc |= jp_web_printf(&ans->body, "<p class=\"error\" id=\"error\">%s</p>", f->msg);
    rc |= jp_web_printf(&ans->body, "<p><a href=\"/\">%s</a></p>",
                        L(req, "返回本账号的范围", "Back to this dashboard's own scope"));
    rc |= s_foot(&ans->body);
    return rc ? JP_ENOMEM : 0;
}

/* The tabs of a scope's pages and its downloads. */
static int
s_tabs(jp_buf_t *b, const jp_web_req_t *req, const char *s, const char *here)
{
    static const char *const pages[][3] = {{"scope", "月报", "Monthly report"},
                                           {"trends", "月度趋势", "Month by month"},
                                           {"at-risk", "流失预警", "Churn warning"},
                                           {"cohort", "客群筛选", "Cohort filter"}};
    int rc = jp_web_raw(b, "<nav class=\"tabs no-print\">");
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        rc |= jp_web_printf(
            b,
            strcmp(here, pages[i][0])
                ? "<a href=\"/%s?s=%s\" id=\"tab-%s\">%s</a>"
                : "<a href=\"/%s?s=%s\" id=\"tab-%s\" class=\"here\">%s</a>",
            pages[i][0], s_u(s), pages[i][0], L(req, pages[i][1], pages[i][2]));
    rc |= jp_web_raw(b, "</nav>");
    return rc ? JP_ENOMEM : 0;
}

/* Download links of table t (csv and xlsx), filter passed on. */
static int
s_downloads(jp_buf_t *b, const jp_web_req_t *req, const char *s, const char *t,
            const char *filter)
{
    int rc = jp_web_printf(b, "<p class=\"downloads no-print\">%s ",
                           L(req, "下载：", "Download:"));
    const char *fq = filter && filter[0] ? "&filter=" : "";
    rc |= jp_web_printf(
        b,
        "<a href=\"/download?s=%s&t=%s&f=xlsx%s%s\" id=\"dl-%s-xlsx\">Excel</a>"
        " · <a href=\"/download?s=%s&t=%s&f=csv%s%s\" id=\"dl-%s-csv\">CSV</a>"
        "</p>",
        s, t, fq, filter ? filter : "", t, s, t, fq, filter ? filter : "", t);
    return rc ? JP_ENOMEM : 0;
}

/* --- the pages --- */

/* The drill-down: a group's regions, a region's stores. */
static int
s_children(dash_t *d, jp_buf_t *b, const jp_web_req_t *req, const char *s)
{
    const dash_store_t *st;
    size_t n = dash_stores(d, &st);
    int rc = 0;
    if (!strcmp(s, "group")) {
        rc = jp_web_printf(b, "<h2>%s</h2><ul class=\"children\" id=\"children\">",
                           L(req, "各区域", "Regions"));
        for (size_t i = 0; i < n && !rc; i++) {
            bool seen = false;
            size_t count = 0;
            for (size_t k = 0; k < n; k++) {
                seen |= k < i && !strcmp(st[k].region, st[i].region);
                count += !strcmp(st[k].region, st[i].region);
            }
            if (!seen)
                rc = jp_web_printf(
                    b,
                    "<li><a href=\"/scope?s=region:%s\" class=\"region\">%s "
                    "%s</a> (%zu %s)</li>",
                    st[i].region, L(req, "区域", "Region"), st[i].region, count,
                    L(req, "家门店", count == 1 ? "store" : "stores"));
        }
        rc |= jp_web_raw(b, "</ul>");
    } else if (!strncmp(s, "region:", 7)) {
        rc = jp_web_printf(b, "<h2>%s</h2><ul class=\"children\" id=\"children\">",
                           L(req, "各门店", "Stores"));
        for (size_t i = 0; i < n && !rc; i++)
            if (!strcmp(st[i].region, s + 7))
                rc = jp_web_printf(
                    b, "<li><a href=\"/scope?s=store:%d\" class=\"store\">%s %s</a></li>",
                    st[i].store, st[i].code, st[i].name);
        rc |= jp_web_raw(b, "</ul>");
    }
    return rc ? JP_ENOMEM : 0;
}

/* The figures a manager reads first, as cards over the report. */
static int
s_cards(jp_buf_t *b, const json_t *rep)
{
    static const char *const keys[][2] = {
        {"base", "customers"},         {"base", "owners"},
        {"base", "owner_class.loyal"}, {"retention", "first_maintenance_return"},
        {"retention", "churn"},        {"retention", "at_risk"},
        {"complaints", "contact_1h"},  {"loyalty", "loyalty_index.value"}};
    int rc = jp_web_raw(b, "<div class=\"cards\" id=\"cards\">");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !rc; i++) {
        char key[96], value[48], of[64];
        snprintf(key, sizeof key, "%s.%s", keys[i][0], keys[i][1]);
        const json_t *v = dash_report_value(rep, keys[i][0], keys[i][1]);
        const char *label = dash_figure_label(key);
        while (label && *label == ' ')
            label++;
        of[0] = '\0';
        if (json_is_object(v)) {
            const json_t *pct = json_object_get(v, "pct");
            if (json_is_number(pct))
                snprintf(value, sizeof value, "%.2f%%", json_number_value(pct));
            else
                snprintf(value, sizeof value, "—");
            snprintf(of, sizeof of, "%lld / %lld",
                     (long long)json_integer_value(json_object_get(v, "num")),
                     (long long)json_integer_value(json_object_get(v, "den")));
        } else if (json_is_integer(v)) {
            snprintf(value, sizeof value, "%lld", (long long)json_integer_value(v));
        } else if (json_is_number(v)) {
            snprintf(value, sizeof value, "%.2f", json_number_value(v));
        } else {
            snprintf(value, sizeof value, "—");
        }
        rc = jp_web_printf(
            b,
            "<div class=\"card\" data-key=\"%s\"><div class=\"label\">%s</div>"
            "<div class=\"value\">%s</div><div class=\"of\">%s</div></div>",
            key, label ? label : key, value, of);
    }
    rc |= jp_web_raw(b, "</div>");
    return rc ? JP_ENOMEM : 0;
}

/* The scope in the address, or the key's own. */
static const char *
s_scope_param(const dash_t *d, const jp_web_req_t *req)
{
    const char *s = jp_web_param(req, "s");
    return s && s[0] ? s : dash_own_scope(d);
}

static int
s_page_scope(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *s = s_scope_param(d, req);
    const char *args[] = {"scope", s};
    json_t *rep = NULL;
    dash_table_t *fig = NULL, *reg = NULL;
    s_fail_t f;
    char name[256];
    if (s_ask(d, req, "report", args, 1, &rep, &f))
        return s_fail_page(d, req, &f, ans);
    jp_buf_t *b = &ans->body;
    bool en = jp_web_en(req);
    s_scope_name(d, req, s, name, sizeof name);
    int rc = s_head(d, b, req, name, s);
    rc |= jp_web_printf(b,
                        "<h1 id=\"title\">%s · %s</h1><p class=\"asof\">%s <span "
                        "id=\"as-of\">%s</span></p>",
                        name, L(req, "忠诚度月报", "Monthly loyalty report"),
                        L(req, "截至", "As of"),
                        json_string_value(json_object_get(rep, "as_of")));
    rc |= s_tabs(b, req, s, "scope");
    rc |= jp_web_printf(
        b,
        "<p class=\"no-print\"><button type=\"button\" id=\"print\">%s</button> "
        "<a href=\"/download?s=%s&t=all&f=xlsx\" id=\"dl-all-xlsx\">%s</a></p>",
        L(req, "打印（A4）", "Print (A4)"), s,
        L(req, "下载全部表格（Excel）", "Download every table (Excel)"));
    rc |= s_cards(b, rep);
    rc |= s_children(d, b, req, s);
    /* The trends: drawn by dash.js from /series.json once the page shows. */
    rc |= jp_web_printf(
        b,
        "<h2>%s</h2><section id=\"trends\" data-src=\"/series.json?s=%s\" "
        "data-state=\"wait\" "
        "data-failed=\"%s\"><p id=\"trends-status\" class=\"no-print\">%s</p>"
        "<div class=\"charts\"><div class=\"chart\"><canvas "
        "id=\"chart-base\"></canvas></div>"
        "<div class=\"chart\"><canvas id=\"chart-retention\"></canvas></div>"
        "<div class=\"chart\"><canvas id=\"chart-service\"></canvas></div>"
        "<div class=\"chart\"><canvas "
        "id=\"chart-loyalty\"></canvas></div></div></section>",
        L(req, "近24个月趋势", "The last 24 months"), s_u(s),
        L(req, "趋势未能载入", "The trends did not load"),
        L(req, "趋势载入中……", "Loading the trends..."));
    if (!(reg = dash_regional_table(rep, en)) || !(fig = dash_figures_table(rep, en))) {
        rc = JP_ENOMEM;
        goto done;
    }
    rc |= jp_web_printf(b, "<h2>%s</h2>", dash_table_title(reg));
    rc |= dash_table_html(reg, b, "regional", 0);
    rc |= s_downloads(b, req, s, "regional", NULL);
    rc |= jp_web_printf(b, "<h2>%s</h2>", L(req, "各项指标", "Every figure"));
    rc |= dash_table_html(fig, b, "figures", 0);
    rc |= s_downloads(b, req, s, "figures", NULL);
    rc |= s_foot(b);
done:
    dash_table_destroy(&reg);
    dash_table_destroy(&fig);
    json_decref(rep);
    return rc ? JP_ENOMEM : 0;
}

/* The charts' data: the trend figures of the scope's series, labels in
 * the reader's language, a rate as its percentage:
 * {"months": [...], "rows": [{"key", "label", "type", "values"}]}. */
static int
s_series_json(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *s = s_scope_param(d, req);
    const json_t *series, *fig;
    s_fail_t f;
    json_t *root;
    ans->type = "application/json";
    if (s_series_of(d, req, s, &series, &f)) {
        ans->status = f.status;
        root = json_pack("{ss}", "error", f.msg);
    } else {
        json_t *rows = json_array();
        root = json_pack("{sO so}", "months", json_object_get(series, "months"), "rows",
                         rows);
        for (size_t k = 0; root && s_trend_keys[k]; k++) {
            size_t i, m;
            json_array_foreach(json_object_get(series, "figures"), i, fig)
            {
                char key[128];
                snprintf(key, sizeof key, "%s.%s",
                         json_string_value(json_object_get(fig, "section")),
                         json_string_value(json_object_get(fig, "name")));
                if (strcmp(key, s_trend_keys[k]))
                    continue;
                const char *type = json_string_value(json_object_get(fig, "type"));
                const char *label = dash_figure_label(key);
                bool rate = type && !strcmp(type, "rate");
                json_t *vals = json_array();
                const json_t *v;
                json_array_foreach(json_object_get(fig, "values"), m, v)
                {
                    const json_t *x = rate ? json_object_get(v, "pct") : v;
                    json_array_append_new(vals, x ? json_deep_copy(x) : json_null());
                }
                while (label && *label == ' ')
                    label++;
                json_array_append_new(rows,
                                      json_pack("{ss ss ss so}", "key", key, "label",
                                                label ? label : key, "type",
                                                type ? type : "", "values", vals));
                break;
            }
        }
    }
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    int rc = text ? jp_web_raw(&ans->body, text) : JP_ENOMEM;
    free(text);
    return rc ? JP_ENOMEM : 0;
}

/* Every figure month by month, as a table (and its downloads). */
static int
s_page_trends(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *s = s_scope_param(d, req);
    const json_t *series;
    s_fail_t f;
    char name[256];
    if (s_series_of(d, req, s, &series, &f))
        return s_fail_page(d, req, &f, ans);
    dash_table_t *t = dash_series_table(series, NULL, jp_web_en(req));
    if (!t)
        return JP_ENOMEM;
    jp_buf_t *b = &ans->body;
    s_scope_name(d, req, s, name, sizeof name);
    int rc = s_head(d, b, req, name, s);
    rc |= jp_web_printf(
        b, "<h1 id=\"title\">%s · %s</h1><p class=\"asof\">%s %s</p>", name,
        L(req, "月度趋势", "Month by month"),
        L(req, "每月月末；最后一列截至", "At each month's end; the last column as of"),
        json_string_value(json_object_get(series, "as_of")));
    rc |= s_tabs(b, req, s, "trends");
    rc |= s_downloads(b, req, s, "series", NULL);
    rc |= jp_web_raw(b, "<div class=\"wide\">");
    rc |= dash_table_html(t, b, "series", 0);
    rc |= jp_web_raw(b, "</div>");
    rc |= s_foot(b);
    dash_table_destroy(&t);
    return rc ? JP_ENOMEM : 0;
}

static int
s_page_at_risk(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *s = s_scope_param(d, req);
    char shown[16];
    snprintf(shown, sizeof shown, "%d", S_AT_RISK_SHOWN);
    const char *args[] = {"scope", s, "limit", shown};
    json_t *list;
    s_fail_t f;
    char name[256];
    if (s_ask(d, req, "at_risk", args, 2, &list, &f))
        return s_fail_page(d, req, &f, ans);
    dash_table_t *t = dash_at_risk_table(list, jp_web_en(req));
    jp_buf_t *b = &ans->body;
    s_scope_name(d, req, s, name, sizeof name);
    int rc = t ? s_head(d, b, req, name, s) : JP_ENOMEM;
    rc |= jp_web_printf(
        b,
        "<h1 id=\"title\">%s · %s</h1><p class=\"asof\">%s %s · <span "
        "id=\"count\">%lld</span> "
        "%s</p><p class=\"note\">%s</p>",
        name, L(req, "流失预警", "Churn warning"), L(req, "截至", "As of"),
        json_string_value(json_object_get(list, "as_of")),
        (long long)json_integer_value(json_object_get(list, "count")),
        L(req, "位车主", "owners"),
        L(req, "一年内购买过、近半年没有再购买的车主，列在负责的门店下（电话已遮蔽）。",
          "Owners who bought in the last year but not in the last six months, each on "
          "the "
          "list of the store responsible (phones masked)."));
    rc |= s_tabs(b, req, s, "at-risk");
    rc |= s_downloads(b, req, s, "at_risk", NULL);
    if (t && json_integer_value(json_object_get(list, "count")) > S_AT_RISK_SHOWN)
        rc |= jp_web_printf(
            b, "<p class=\"note\" id=\"shown\">%s %d %s</p>",
            L(req, "页面列出前", "The page lists the first"), S_AT_RISK_SHOWN,
            L(req, "位；下载的文件包含全部。", "; the downloads hold them all."));
    if (t)
        rc |= dash_table_html(t, b, "at-risk", S_AT_RISK_SHOWN);
    rc |= s_foot(b);
    dash_table_destroy(&t);
    json_decref(list);
    return rc ? JP_ENOMEM : 0;
}

/* The cohort filter the form's fields make: docs/REPORTS.md's grammar,
 * e.g. "daily_km 5..500, age_days >213, visits >=4". */
static void
s_cohort_expr(const jp_web_req_t *req, char *out, size_t cap)
{
    const char *kmin = jp_web_param(req, "km_min"), *kmax = jp_web_param(req, "km_max");
    const char *age = jp_web_param(req, "age"), *visits = jp_web_param(req, "visits");
    const char *cls = jp_web_param(req, "class"), *more = jp_web_param(req, "filter");
    size_t n = 0;
    out[0] = '\0';
#define S_ADD(...)                                                                       \
    do {                                                                                 \
        if (n < cap)                                                                     \
            n += (size_t)snprintf(out + n, cap - n, "%s", n ? ", " : "");                \
        if (n < cap)                                                                     \
            n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);                        \
    } while (0)
    if (kmin && kmin[0] && kmax && kmax[0])
        S_ADD("daily_km %s..%s", kmin, kmax);
    else if (kmin && kmin[0])
        S_ADD("daily_km >=%s", kmin);
    else if (kmax && kmax[0])
        S_ADD("daily_km <=%s", kmax);
    if (age && age[0])
        S_ADD("age_days >%s", age);
    if (visits && visits[0])
        S_ADD("visits >=%s", visits);
    if (cls && cls[0])
        S_ADD("class %s", cls);
    if (more && more[0])
        S_ADD("%s", more);
#undef S_ADD
    if (n >= cap)
        out[cap - 1] = '\0';
}

/* The cohort's result: matching vehicles of all in scope, as a table. */
static dash_table_t *
s_cohort_table(const jp_web_req_t *req, const json_t *rep, const char *expr)
{
    const json_t *m = dash_report_value(rep, "cohort", "matched");
    const char *const heads[] = {
        L(req, "筛选条件", "Filter"), L(req, "符合的车辆", "Matching vehicles"),
        L(req, "车辆总数", "Vehicles"), L(req, "占比 %", "Share %")};
    dash_table_t *t = dash_table_new("cohort", L(req, "客群筛选", "Cohort"), 4);
    const json_t *pct = json_object_get(m, "pct");
    int rc = t ? 0 : JP_ENOMEM;
    for (int i = 0; i < 4 && !rc; i++)
        rc = dash_table_head(t, i, heads[i]);
    rc = rc || dash_table_row(t, "cohort.matched") || dash_table_text(t, expr) ||
         dash_table_int(t, json_integer_value(json_object_get(m, "num"))) ||
         dash_table_int(t, json_integer_value(json_object_get(m, "den"))) ||
         dash_table_fixed(
             t, json_is_number(pct) ? (int64_t)(json_number_value(pct) * 100 + 0.5) : 0,
             !json_is_number(pct));
    if (rc)
        dash_table_destroy(&t);
    return t;
}

static int
s_page_cohort(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *s = s_scope_param(d, req);
    char expr[JP_WEB_BODY_MAX < 1024 ? JP_WEB_BODY_MAX : 1024], name[256];
    s_cohort_expr(req, expr, sizeof expr);
    const char *kmin = jp_web_param(req, "km_min"), *kmax = jp_web_param(req, "km_max");
    const char *age = jp_web_param(req, "age"), *visits = jp_web_param(req, "visits");
    const char *cls = jp_web_param(req, "class"), *more = jp_web_param(req, "filter");
    bool asked = jp_web_param(req, "go") != NULL;
    jp_buf_t *b = &ans->body;
    s_scope_name(d, req, s, name, sizeof name);
    int rc = s_head(d, b, req, name, s);
    rc |= jp_web_printf(b, "<h1 id=\"title\">%s · %s</h1>", name,
                        L(req, "客群筛选", "Cohort filter"));
    rc |= s_tabs(b, req, s, "cohort");
    /* The seed's example as the form's starting values. */
    if (!asked)
        kmin = "5", kmax = "500", age = "213", visits = "4";
    rc |= jp_web_printf(
        b,
        "<form method=\"get\" action=\"/cohort\" class=\"cohort no-print\" "
        "id=\"cohort-form\">"
        "<input type=\"hidden\" name=\"s\" value=\"%s\"><input type=\"hidden\" "
        "name=\"go\" "
        "value=\"1\"><label>%s <input name=\"km_min\" id=\"km_min\" size=\"5\" "
        "value=\"%s\"> – "
        "<input name=\"km_max\" id=\"km_max\" size=\"5\" value=\"%s\"> km</label>"
        "<label>%s <input name=\"age\" id=\"age\" size=\"5\" value=\"%s\"> %s</label>"
        "<label>%s <input name=\"visits\" id=\"visits\" size=\"3\" value=\"%s\"> "
        "%s</label>",
        s, L(req, "日均里程", "Daily mileage"), kmin ? kmin : "", kmax ? kmax : "",
        L(req, "购车超过", "Delivered more than"), age ? age : "",
        L(req, "天", "days ago"), L(req, "回厂至少", "At least"), visits ? visits : "",
        L(req, "次", "visits"));
    static const char *const classes[][3] = {{"", "不限", "any"},
                                             {"loyal", "忠诚客户", "loyal"},
                                             {"effective", "有效客户", "effective"},
                                             {"deal", "成交客户", "deal"},
                                             {"data_only", "资料型客户", "data-only"}};
    rc |= jp_web_printf(b, "<label>%s <select name=\"class\" id=\"class\">",
                        L(req, "客户类别", "Class"));
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        rc |= jp_web_printf(b, "<option value=\"%s\"%s>%s</option>", classes[i][0],
                            cls && !strcmp(cls, classes[i][0]) ? " selected" : "",
                            L(req, classes[i][1], classes[i][2]));
    rc |= jp_web_printf(b,
                        "</select></label><label>%s <input name=\"filter\" id=\"filter\" "
                        "size=\"40\" value=\"%s\"></label>"
                        "<button type=\"submit\" id=\"cohort-go\">%s</button></form>",
                        L(req, "其他条件", "More conditions"), more ? more : "",
                        L(req, "筛选", "Filter"));
    rc |=
        jp_web_printf(b,
                      "<p class=\"note\">%s <code>daily_km 5..500, age_days >213, visits "
                      ">=4</code> · docs/REPORTS.md</p>",
                      L(req, "条件写法：", "The grammar:"));
    if (asked && expr[0] && !rc) {
        const char *args[] = {"scope", s, "filter", expr};
        json_t *rep = NULL;
        s_fail_t f;
        if (s_ask(d, req, "report", args, 2, &rep, &f)) {
            ans->status =
                f.status == 400 ? 200 : f.status; /* a bad filter: the form again */
            rc |= jp_web_printf(b, "<p class=\"error\" id=\"error\">%s</p>", f.msg);
        } else {
            dash_table_t *t = s_cohort_table(req, rep, expr);
            const json_t *m = dash_report_value(rep, "cohort", "matched");
            const json_t *pct = json_object_get(m, "pct");
            char p[32];
            if (json_is_number(pct))
                snprintf(p, sizeof p, "%.2f%%", json_number_value(pct));
            else
                snprintf(p, sizeof p, "—");
            rc |= jp_web_printf(
                b,
                "<p class=\"result\" id=\"cohort-result\">%s <b "
                "id=\"cohort-num\">%lld</b> / "
                "<b id=\"cohort-den\">%lld</b> = <b id=\"cohort-pct\">%s</b></p>",
                L(req, "符合条件的车辆：", "Matching vehicles:"),
                (long long)json_integer_value(json_object_get(m, "num")),
                (long long)json_integer_value(json_object_get(m, "den")), p);
            if (t)
                rc |= dash_table_html(t, b, "cohort", 0);
            rc |= s_downloads(b, req, s, "cohort", expr);
            dash_table_destroy(&t);
            json_decref(rep);
        }
    }
    rc |= s_foot(b);
    return rc ? JP_ENOMEM : 0;
}

/* --- downloads --- */

/* The tables a download names (t), built as the pages build them.  *n
 * tables into out (owned by the caller). */
static int
s_tables_of(dash_t *d, const jp_web_req_t *req, const char *s, const char *t,
            dash_table_t **out, int *n, s_fail_t *f)
{
    bool en = jp_web_en(req), all = !strcmp(t, "all");
    const char *args[] = {"scope", s, "filter", jp_web_param(req, "filter")};
    json_t *j = NULL;
    int rc = 0;
    *n = 0;
    if (all || !strcmp(t, "figures") || !strcmp(t, "regional")) {
        if ((rc = s_ask(d, req, "report", args, 1, &j, f)))
            return rc;
        if (all || !strcmp(t, "figures"))
            out[(*n)++] = dash_figures_table(j, en);
        if (all || !strcmp(t, "regional"))
            out[(*n)++] = dash_regional_table(j, en);
        json_decref(j);
    }
    if (all || !strcmp(t, "series")) {
        const json_t *series;
        if ((rc = s_series_of(d, req, s, &series, f)))
            return rc;
        out[(*n)++] = dash_series_table(series, NULL, en);
    }
    if (all || !strcmp(t, "at_risk")) {
        /* In parts: the whole list of a large scope does not fit an answer. */
        char off[24] = "0";
        const char *part[] = {"scope", s, "limit", S_AT_RISK_PART, "offset", off};
        dash_table_t **at = &out[(*n)++];
        for (json_int_t got = 0;;) {
            if ((rc = s_ask(d, req, "at_risk", part, 3, &j, f)))
                return rc;
            size_t k = json_array_size(json_object_get(j, "items"));
            if (!*at)
                rc = (*at = dash_at_risk_table(j, en)) ? 0 : JP_ENOMEM;
            else
                rc = dash_at_risk_rows(*at, j);
            got += (json_int_t)k;
            bool more = k > 0 && got < json_integer_value(json_object_get(j, "count"));
            json_decref(j);
            if (rc || !more)
                break;
            snprintf(off, sizeof off, "%lld", (long long)got);
        }
        if (rc)
            return rc;
    }
    if (!strcmp(t, "cohort")) {
        if (!args[3] || !args[3][0]) {
            f->status = 400;
            snprintf(f->msg, sizeof f->msg, "%s",
                     L(req, "没有筛选条件", "No filter given"));
            return JP_EINVAL;
        }
        if ((rc = s_ask(d, req, "report", args, 2, &j, f)))
            return rc;
        out[(*n)++] = s_cohort_table(req, j, args[3]);
        json_decref(j);
    }
    if (*n == 0) {
        f->status = 404;
        snprintf(f->msg, sizeof f->msg, "%s: %.40s",
                 L(req, "没有这个表格", "No such table"), t);
        return JP_EINVAL;
    }
    for (int i = 0; i < *n; i++)
        if (!out[i])
            return JP_ENOMEM;
    return 0;
}

/* The scope in a file name: group, region, store-3. */
static void
s_file_scope(const char *s, char *out, size_t cap)
{
    unsigned st;
    if (sscanf(s, "store:%u", &st) == 1)
        snprintf(out, cap, "store-%u", st);
    else if (!strncmp(s, "region:", 7))
        snprintf(out, cap, "region");
    else
        snprintf(out, cap, "group");
}

static int
s_download(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *s = s_scope_param(d, req);
    const char *t = jp_web_param(req, "t"), *fmt = jp_web_param(req, "f");
    dash_table_t *tables[8] = {0};
    int n = 0, rc;
    s_fail_t f;
    bool xlsx = fmt && !strcmp(fmt, "xlsx");
    if (!t || !fmt || (!xlsx && strcmp(fmt, "csv")) || (!xlsx && !strcmp(t, "all"))) {
        ans->status = 400;
        ans->type = "text/plain; charset=utf-8";
        return jp_web_raw(&ans->body,
                          L(req, "下载需要 t=表格 与 f=csv 或 xlsx（全部表格仅 xlsx）",
                            "a download needs t=TABLE and f=csv or xlsx (t=all: "
                            "xlsx only)"))
                   ? JP_ENOMEM
                   : 0;
    }
    if ((rc = s_tables_of(d, req, s, t, tables, &n, &f))) {
        for (int i = 0; i < n; i++)
            dash_table_destroy(&tables[i]);
        return rc == JP_ENOMEM ? rc : s_fail_page(d, req, &f, ans);
    }
    char fs[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    s_file_scope(s, fs, sizeof fs);
    snprintf(ans->filename, sizeof ans->filename, "jipan-%s-%s-%04d-%02d-%02d.%s",
             !strcmp(t, "at_risk") ? "at-risk" : t, fs, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, xlsx ? "xlsx" : "csv");
    if (xlsx) {
        jp_err_t err;
        jp_err_clear(&err);
        ans->type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        rc = dash_tables_xlsx(tables, n, &ans->body, &err);
        if (rc)
            fprintf(stderr, "jipan-web: %s\n", err.msg);
    } else {
        ans->type = "text/csv; charset=utf-8";
        rc = dash_table_csv(tables[0], &ans->body);
    }
    for (int i = 0; i < n; i++)
        dash_table_destroy(&tables[i]);
    return rc;
}

/* --- routes --- */

static int
s_route(dash_t *d, jp_web_req_t *req, jp_web_answer_t *ans)
{
    const char *path = jp_web_path(req);
    if (strcmp(jp_web_method(req), "GET") != 0 &&
        strcmp(jp_web_method(req), "HEAD") != 0) {
        ans->status = 405;
        ans->type = "text/plain; charset=utf-8";
        return jp_web_raw(&ans->body, "method not allowed") ? JP_ENOMEM : 0;
    }
    if (!strcmp(path, "/")) {
        ans->status = 303;
        snprintf(ans->location, sizeof ans->location, "/scope?s=%s",
                 s_u(dash_own_scope(d)));
        return 0;
    }
    if (!strcmp(path, "/scope"))
        return s_page_scope(d, req, ans);
    if (!strcmp(path, "/trends"))
        return s_page_trends(d, req, ans);
    if (!strcmp(path, "/series.json"))
        return s_series_json(d, req, ans);
    if (!strcmp(path, "/at-risk"))
        return s_page_at_risk(d, req, ans);
    if (!strcmp(path, "/cohort"))
        return s_page_cohort(d, req, ans);
    if (!strcmp(path, "/download"))
        return s_download(d, req, ans);
    ans->status = 404;
    ans->type = "text/plain; charset=utf-8";
    return jp_web_raw(&ans->body, L(req, "没有这个页面", "not found")) ? JP_ENOMEM : 0;
}

int
dash_page(void *app, jp_web_req_t *req, jp_web_answer_t *ans)
{
    return s_route(app, req, ans);
}

/* --- static files --- */

static const char s_css[] =
    "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;margin:0;"
    "color:#222;background:#f6f7f9}"
    "header{display:flex;gap:1.5em;align-items:center;background:#1f3a5f;color:#fff;"
    "padding:.5em 1em}header a{color:#fff}header form{margin:0}"
    "main{padding:1em 1.5em}"
    "h1{font-size:1.4em;margin:.3em 0}h2{font-size:1.15em;margin:1em 0 .3em}"
    ".asof,.note{color:#555}"
    "nav.tabs a{display:inline-block;padding:.3em "
    ".9em;margin-right:.3em;background:#e3e8ef;"
    "color:#1f3a5f;text-decoration:none;border-radius:.3em .3em 0 0}"
    "nav.tabs a.here{background:#1f3a5f;color:#fff}"
    "table{border-collapse:collapse;background:#fff;margin:.5em 0}"
    "th,td{border:1px solid #ccd;padding:.2em .6em;text-align:left;vertical-align:top}"
    "thead "
    "th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.figures tbody th+td{white-space:pre}"
    "table.figures td:nth-child(2){white-space:pre}"
    "table.regional tbody tr:last-child{font-weight:bold}"
    "div.wide{overflow-x:auto}table.series th{white-space:pre}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(28em,1fr));gap:"
    "1em}"
    ".chart{position:relative;height:16em;background:#fff;border:1px solid "
    "#ccd;padding:.3em}"
    "ul.children{columns:3}"
    ".cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.6em 0}"
    ".card{background:#fff;border:1px solid #ccd;border-left:4px solid #1f3a5f;"
    "padding:.4em .8em;min-width:9em}.card .label{color:#555;font-size:.9em}"
    ".card .value{font-size:1.5em;font-weight:bold;font-variant-numeric:tabular-nums}"
    ".card .of{color:#777;font-size:.85em;min-height:1.1em}"
    "form.cohort label{display:inline-block;margin:.3em 1em .3em 0}"
    ".result{font-size:1.2em}"
    ".error{color:#a00;background:#fee;border:1px solid #e99;padding:.5em}"
    "body.login main{max-width:22em;margin:4em auto;background:#fff;padding:2em;"
    "border:1px solid #ccd}body.login label{display:block}"
    /* The monthly report on A4: no navigation, no forms, tables that fit. */
    "@page{size:A4;margin:12mm}"
    "@media print{header,.no-print,nav.tabs{display:none}body{background:#fff;"
    "font-size:9pt}main{padding:0}table{font-size:8pt;page-break-inside:auto}"
    "tr{page-break-inside:avoid}h2{page-break-after:avoid}"
    ".charts{grid-template-columns:1fr 1fr}.chart{height:12em;page-break-inside:avoid}"
    ".chart canvas{width:100%!important;height:100%!important}"
    "ul.children{columns:4}table.series{font-size:6pt}}";

/* The charts: drawn from /series.json once the page has shown (no inline
 * script: the pages' CSP allows scripts of this origin only). */
static const char s_js[] =
    "(function(){'use strict';\n"
    "var groups=[['chart-base',['base.customers','base.owners','base.owner_class.loyal',"
    "'base.owner_class.effective']],\n"
    "['chart-retention',['retention.first_maintenance_return','retention.six_month_"
    "return',"
    "'retention.retention_12m','retention.churn']],\n"
    "['chart-service',['complaints.contact_1h','complaints.resolution','follow_up.day3',"
    "'follow_up.day7']],\n"
    "['chart-loyalty',['loyalty.satisfaction.csat','loyalty.loyalty_index.value',"
    "'loyalty.repeat_purchase']]];\n"
    "var colors=['#1f3a5f','#c0392b','#27ae60','#e67e22'];\n"
    "function draw(d){groups.forEach(function(g){var el=document.getElementById(g[0]);\n"
    "if(!el||typeof Chart==='undefined')return;var sets=[];\n"
    "g[1].forEach(function(k,i){var r=d.rows.filter(function(x){return x.key===k;})[0];\n"
    "if(r)sets.push({label:r.label,data:r.values,borderColor:colors[i],"
    "backgroundColor:colors[i],tension:0.2,spanGaps:true,pointRadius:2});});\n"
    "new "
    "Chart(el,{type:'line',data:{labels:d.months,datasets:sets},options:{animation:false,"
    "responsive:true,maintainAspectRatio:false,plugins:{legend:{position:'bottom'}}}});})"
    ";}\n"
    "var box=document.getElementById('trends');\n"
    "if(box){fetch(box.dataset.src,{credentials:'same-origin'}).then(function(r){\n"
    "return r.json().then(function(j){if(!r.ok)throw new Error(j.error||r.status);return "
    "j;});})\n"
    ".then(function(d){draw(d);box.setAttribute('data-state','loaded');\n"
    "var p=document.getElementById('trends-status');if(p)p.textContent='';})\n"
    ".catch(function(e){box.setAttribute('data-state','failed');\n"
    "var "
    "p=document.getElementById('trends-status');if(p)p.textContent=box.dataset.failed+"
    "': '+e.message;});}\n"
    "function "
    "fit(){Object.values(Chart.instances||{}).forEach(function(c){c.resize();});}\n"
    "if(typeof Chart!=='undefined'){window.addEventListener('beforeprint',fit);"
    "window.addEventListener('afterprint',fit);}\n"
    "var pr=document.getElementById('print');\n"
    "if(pr)pr.addEventListener('click',function(){window.print();});\n"
    "})();\n";

static const char s_no_chart[] = "/* Chart.js is not installed: apt-get install "
                                 "libjs-chart.js */\n";

const struct jp_web_static *
dash_statics(const dash_t *d)
{
    static struct jp_web_static st[5];
    st[0] = (struct jp_web_static){"/static/dash.css", "text/css; charset=utf-8", s_css};
    st[1] = (struct jp_web_static){"/static/style.css", "text/css; charset=utf-8", s_css};
    st[2] =
        (struct jp_web_static){"/static/dash.js", "text/javascript; charset=utf-8", s_js};
    st[3] = (struct jp_web_static){"/static/chart.js", "text/javascript; charset=utf-8",
                                   dash_chart_js(d) ? dash_chart_js(d) : s_no_chart};
    st[4] = (struct jp_web_static){NULL, NULL, NULL};
    return st;
}
