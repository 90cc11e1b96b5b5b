/*
 * gen.c -- jipan-gen: a seeded, deterministic generator of a dealer group's
 * customer base, as the CSV files of docs/IMPORT.md, one folder per store.
 *
 * The one idea: every number comes from one xoshiro256** stream seeded by
 * --seed, and every date is counted in local civil days before --as-of, so
 * the same arguments write the same bytes on every machine.  The mix is
 * chosen so that every loyalty figure comes out non-trivial: most but not
 * all deliveries get their day-3 and day-7 calls, most owners come back for
 * first maintenance, some complaints miss the one-hour contact, some
 * referrals convert, some prospects are defeated, and a share of owners
 * also appear at a second store of the group (same phone and ID number,
 * service visits on the same VIN there).
 */
#include "validate.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- randomness ------------------------------------------------------------ */

static uint64_t s_rng[4]; /* xoshiro256** state */

static uint64_t
s_rotl(uint64_t x, int k)
{
    return x << k | x >> (64 - k);
}

static uint64_t
s_next(void)
{
    uint64_t r = s_rotl(s_rng[1] * 5, 7) * 9, t = s_rng[1] << 17;
    s_rng[2] ^= s_rng[0];
    s_rng[3] ^= s_rng[1];
    s_rng[1] ^= s_rng[2];
    s_rng[0] ^= s_rng[3];
    s_rng[2] ^= t;
    s_rng[3] = s_rotl(s_rng[3], 45);
    return r;
}

static void
s_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64 */
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ z >> 27) * 0x94d049bb133111ebull;
        s_rng[i] = z ^ z >> 31;
    }
}

/* Uniform in [lo, hi]. */
static int64_t
s_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(s_next() % (uint64_t)(hi - lo + 1));
}

/* True with probability p. */
static bool
s_chance(double p)
{
    return (double)(s_next() >> 11) / 9007199254740992.0 < p;
}

#define S_PICK(a) ((a)[s_next() % (sizeof(a) / sizeof((a)[0]))])

/* ---- the group ------------------------------------------------------------- */

typedef struct {
    const char *city;         /* region name */
    const char *code;         /* store code prefix */
    const char *plate;        /* plate prefix */
    const char *districts[3]; /* districts of residence */
    const char *idcodes[3];   /* resident ID area codes of those districts */
} region_t;

static const region_t s_regions[] = {
    {"惠州", "HZ", "粤L", {"惠城区", "惠阳区", "博罗县"}, {"441302", "441303", "441322"}},
    {"深圳", "SZ", "粤B", {"南山区", "福田区", "宝安区"}, {"440305", "440304", "440306"}},
    {"广州", "GZ", "粤A", {"天河区", "越秀区", "番禺区"}, {"440106", "440104", "440113"}},
};
#define S_NREGIONS 3

static const char *const s_surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄",
                                         "赵", "吴", "周", "徐", "孙", "马", "朱",
                                         "胡", "郭", "何", "林", "罗", "高", "梁"};
static const char *const s_given[] = {
    "伟", "芳",   "娜",   "敏", "静", "丽", "强", "磊",   "军", "洋",
    "勇", "艳",   "杰",   "娟", "涛", "明", "超", "秀英", "华", "平",
    "刚", "桂英", "建华", "文", "辉", "鹏", "晨", "宇",   "浩", "欣"};
static const char *const s_models[] = {"凯美瑞 2.0", "卡罗拉 1.2T", "雷凌 双擎",
                                       "RAV4 荣放",  "汉兰达 2.0T", "亚洲龙 2.5",
                                       "威兰达",     "赛那 2.5"};
static const char *const s_phone_prefix[] = {"138", "139", "135", "136", "137", "150",
                                             "151", "152", "158", "159", "186", "187",
                                             "188", "189", "177", "199"};
static const char *const s_sources[] = {"walk_in",  "walk_in",    "phone",
                                        "internet", "exhibition", "other"};
static const char *const s_grades[] = {"H", "A", "A", "B", "B", "C", "C", "potential"};
static const char *const s_reasons[] = {"price",   "product",   "competitor",
                                        "service", "financing", "other"};
static const char *const s_channels[] = {"phone",  "phone", "phone",
                                         "wechat", "sms",   "visit"};
static const char *const s_vin_chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";

/* ---- output ---------------------------------------------------------------- */

typedef struct {
    FILE *cust, *veh, *ev; /* the three CSV files of one store */
    int num;               /* store number, 1.. */
    char code[16];         /* HZ01 */
    const region_t *reg;   /* its region */
    uint64_t next_ext;     /* ext_id counter */
} store_t;

static int64_t s_asof;    /* local civil day of --as-of */
static uint64_t s_people; /* global person counter: unique phones */
static uint64_t s_vins;   /* global vehicle counter: unique VINs */
static uint64_t s_rows;   /* rows written, for the summary */

/* A day plus minutes as an ISO 8601 local instant with the group's offset. */
static const char *
s_when(int64_t day, int minute, char out[32])
{
    char d[11];
    jp_format_date(day, d);
    snprintf(out, 32, "%sT%02d:%02d:00+08:00", d, minute / 60 % 24, minute % 60);
    return out;
}

static void
s_phone(uint64_t person, char out[16])
{
    uint64_t body = (person / 16 * 7919 + 12345) % 100000000;
    snprintf(out, 16, "%s%08llu", s_phone_prefix[person % 16], (unsigned long long)body);
}

/* A valid 18-character ID number, unique by its 3-digit sequence and area. */
static void
s_idnum(const region_t *reg, uint64_t person, int64_t birthday, char out[19])
{
    char d[11];
    jp_format_date(birthday, d);
    snprintf(out, 19, "%s%.4s%.2s%.2s%03llu", reg->idcodes[person % 3], d, d + 5, d + 8,
             (unsigned long long)(person / 3 % 1000));
    out[17] = jp_idnum_check_char(out);
    out[18] = '\0';
}

/* A valid VIN, unique by its serial. */
static void
s_vin(char out[18])
{
    uint64_t n = s_vins++;
    static const char *const wmi[] = {"LSV", "LFV", "LGB", "LVG"};
    memcpy(out, wmi[n % 4], 3);
    for (int i = 3; i < 8; i++)
        out[i] = s_vin_chars[s_next() % 33];
    out[9] = "NPRST"[n % 5];
    out[10] = (char)('A' + n / 1000000 % 8);
    snprintf(out + 11, 7, "%06llu", (unsigned long long)(n % 1000000));
    out[8] = '0';
    out[8] = jp_vin_check_digit(out);
    out[17] = '\0';
}

static void
s_name(char out[32])
{
    snprintf(out, 32, "%s%s", S_PICK(s_surnames), S_PICK(s_given));
}

/* ---- one store's rows ------------------------------------------------------ */

typedef struct {
    char ext[24]; /* customer ext_id in its store */
    char name[32];
    char phone[16];
    char idnum[19];   /* "" when none */
    int64_t birthday; /* civil day */
    const char *district;
    int64_t created; /* civil day */
} person_t;

static void
s_customer(store_t *s, const person_t *p, const char *grade, const char *source,
           const char *referred_by)
{
    char bd[11], cr[32];
    jp_format_date(p->birthday, bd);
    fprintf(s->cust, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", p->ext, p->name, p->phone,
            p->idnum, bd, p->district, source, grade, s_when(p->created, 600, cr),
            referred_by);
    s_rows++;
}

/* An event row; cols is the kind-specific tail (vin..note). */
static void
s_event(store_t *s, const char *cust, const char *kind, int64_t day, int minute,
        const char *cols, char ext_out[24])
{
    char ext[24], at[32];
    snprintf(ext, sizeof ext, "E%s-%llu", s->code, (unsigned long long)s->next_ext++);
    if (ext_out)
        strcpy(ext_out, ext);
    fprintf(s->ev, "%s,%s,%s,%s,%s\n", ext, cust, kind, s_when(day, minute, at), cols);
    s_rows++;
}

/* events.csv columns after `at`: vin,service_type,mileage,amount,channel,
 * purpose,severity,subject,complaint_ext_id,satisfaction,repurchase,
 * recommend,referred_ext_id,reason,grade */
#define S_EV_COLS                                                                        \
    "ext_id,customer_ext_id,kind,at,vin,service_type,mileage,amount,channel,purpose,"    \
    "severity,subject,complaint_ext_id,satisfaction,repurchase,recommend,"               \
    "referred_ext_id,reason,grade\n"

static void
s_contact(store_t *s, const char *cust, int64_t day, const char *purpose)
{
    char cols[96];
    snprintf(cols, sizeof cols, ",,,,%s,%s,,,,,,,,,", S_PICK(s_channels), purpose);
    s_event(s, cust, "contact", day, (int)s_range(540, 1080), cols, NULL);
}

static void
s_service(store_t *s, const char *cust, const char *vin, const char *type, int64_t day,
          int64_t km, int64_t amount)
{
    char cols[128];
    snprintf(cols, sizeof cols, "%s,%s,%lld,%lld,,,,,,,,,,,", vin, type, (long long)km,
             (long long)amount);
    s_event(s, cust, "service", day, (int)s_range(510, 1020), cols, NULL);
}

static void
s_complaint(store_t *s, const char *cust, int64_t day)
{
    char cols[96], ext[24];
    int minute = (int)s_range(540, 1000);
    snprintf(cols, sizeof cols, ",,,,,,%s,%s,,,,,,,", s_chance(0.25) ? "major" : "minor",
             s_chance(0.5)   ? "service"
             : s_chance(0.5) ? "sales"
                             : "product");
    s_event(s, cust, "complaint", day, minute, cols, ext);
    /* First contact: mostly within the hour, some late, some never. */
    double r = (double)(s_next() % 100) / 100.0;
    if (r < 0.9) {
        int after = r < 0.72 ? (int)s_range(5, 60) : (int)s_range(61, 600);
        int64_t cday = day + (minute + after) / 1440;
        if (cday <= s_asof) {
            snprintf(cols, sizeof cols, ",,,,phone,,,,%s,,,,,,", ext);
            s_event(s, cust, "complaint_contact", cday, (minute + after) % 1440, cols,
                    NULL);
        }
    }
    if (s_chance(0.8)) {
        int64_t rday = day + (s_chance(0.6) ? 0 : s_range(1, 20));
        if (rday <= s_asof) {
            snprintf(cols, sizeof cols, ",,,,,,,,%s,,,,,,", ext);
            s_event(s, cust, "complaint_resolved", rday, rday == day ? 1380 : 700, cols,
                    NULL);
        }
    }
}

static void
s_survey(store_t *s, const char *cust, int64_t day)
{
    static const char *const rep[] = {"high", "high", "mid", "low"};
    static const char *const rec[] = {"very_likely", "very_likely", "possible",
                                      "unlikely"};
    char cols[96];
    int sat = (int)(s_chance(0.75) ? s_range(4, 5) : s_range(1, 3));
    snprintf(cols, sizeof cols, ",,,,,,,,,%d,%s,%s,,,", sat, S_PICK(rep), S_PICK(rec));
    s_event(s, cust, "survey", day, 900, cols, NULL);
}

/* A sale and the life of the car after it: calls, maintenance, repairs,
 * insurance, surveys, complaints.  Returns the VIN in vin. */
static void
s_owner_life(store_t *s, const person_t *p, int64_t delivered, char vin[18])
{
    static const char *const kinds[] = {"new", "new", "new", "replacement", "additional"};
    char plate[16], d[11];
    s_vin(vin);
    snprintf(plate, sizeof plate, "%s%c%04llu", s->reg->plate, s_vin_chars[s_next() % 23],
             (unsigned long long)(s_next() % 10000));
    jp_format_date(delivered, d);
    fprintf(s->veh, "%s,%s,%s,%s,%s,%lld,%s\n", vin, p->ext, S_PICK(s_models), plate, d,
            (long long)s_range(80000, 400000), S_PICK(kinds));
    s_rows++;

    if (delivered + 3 <= s_asof && s_chance(0.85))
        s_contact(s, p->ext, delivered + s_range(1, 3), "day3");
    if (delivered + 7 <= s_asof && s_chance(0.75))
        s_contact(s, p->ext, delivered + s_range(5, 7), "day7");

    int64_t km_per_day = s_range(15, 120);
    if (s_chance(0.8)) {
        int64_t day = delivered + (s_chance(0.85) ? s_range(30, 90) : s_range(92, 150));
        if (day <= s_asof)
            s_service(s, p->ext, vin, "first_maintenance", day,
                      (day - delivered) * km_per_day, 0);
    }
    bool loyal = s_chance(0.65);
    for (int64_t day = delivered + s_range(170, 200); day <= s_asof;
         day += s_range(150, 220)) {
        if (!loyal && s_chance(0.5))
            break;
        s_service(s, p->ext, vin, "periodic", day, (day - delivered) * km_per_day,
                  s_range(400, 1500));
        if (s_chance(0.2))
            s_service(s, p->ext, vin, s_chance(0.7) ? "repair" : "accident", day,
                      (day - delivered) * km_per_day, s_range(300, 12000));
    }
    for (int64_t day = delivered + 365; day <= s_asof; day += 365) {
        if (s_chance(0.6)) {
            char cols[64];
            snprintf(cols, sizeof cols, ",,,%lld,,,,,,,,,,,",
                     (long long)s_range(3000, 9000));
            s_event(s, p->ext, "insurance", day - s_range(0, 20), 660, cols, NULL);
        }
    }
    if (s_chance(0.2) && delivered + 10 <= s_asof) {
        char cols[64];
        snprintf(cols, sizeof cols, ",,,%lld,,,,,,,,,,,", (long long)s_range(1500, 6000));
        s_event(s, p->ext, "package", delivered + s_range(0, 10), 720, cols, NULL);
    }
    if (s_chance(0.45) && delivered + 14 <= s_asof)
        s_survey(s, p->ext, s_range(delivered + 7, s_asof));
    if (s_chance(0.12) && delivered + 20 <= s_asof)
        s_complaint(s, p->ext, s_range(delivered + 10, s_asof));
    for (int64_t day = delivered + 100; day <= s_asof; day += s_range(80, 130)) {
        if (s_chance(0.5))
            s_contact(s, p->ext, day,
                      s_chance(0.5) ? "maintenance_reminder" : "follow_up");
    }
}

static void
s_new_person(store_t *s, person_t *p, int64_t created)
{
    uint64_t n = s_people++;
    snprintf(p->ext, sizeof p->ext, "C%s-%llu", s->code,
             (unsigned long long)s->next_ext++);
    s_name(p->name);
    s_phone(n, p->phone);
    p->birthday = s_range(-3650, 12000); /* 1960 .. 2002 */
    if (s_chance(0.7))
        s_idnum(s->reg, n, p->birthday, p->idnum);
    else
        p->idnum[0] = '\0';
    p->district = s->reg->districts[s_next() % 3];
    p->created = created;
}

/* A prospect: grade, follow-ups, perhaps defeated, perhaps converted. */
static void
s_prospect(store_t *s, person_t *p, const char *source, const char *referred_by,
           bool *converted)
{
    const char *grade = S_PICK(s_grades);
    s_customer(s, p, grade, source, referred_by);
    int64_t day = p->created;
    for (int i = 0; i < 3 && (day += s_range(2, 20)) <= s_asof; i++) {
        s_contact(s, p->ext, day, "follow_up");
        if (s_chance(0.3)) {
            char cols[64];
            snprintf(cols, sizeof cols, ",,,,,,,,,,,,,,%s", S_PICK(s_grades));
            s_event(s, p->ext, "grade", day, 1000, cols, NULL);
        }
    }
    *converted = false;
    if (s_chance(0.2) && day + 5 <= s_asof) {
        char cols[64];
        snprintf(cols, sizeof cols, ",,,,,,,,,,,,,%s,", S_PICK(s_reasons));
        s_event(s, p->ext, "defeat", day + 5, 1020, cols, NULL);
    } else if (s_chance(0.15) && day + 10 <= s_asof) {
        char vin[18];
        *converted = true;
        s_owner_life(s, p, s_range(day + 1, day + 10 < s_asof ? day + 10 : s_asof), vin);
    }
}

typedef struct {
    int stores;      /* how many stores */
    int customers;   /* customers per store (before referrals) */
    double shared;   /* share of owners who also visit the next store */
    const char *out; /* output folder */
} opts_t;

static int
s_open(store_t *s, const char *dir)
{
    char path[4200];
    struct {
        FILE **f;
        const char *name, *header;
    } files[] = {
        {&s->cust, "customers.csv",
         "ext_id,name,phone,id_number,birthday,district,source,grade,created_at,"
         "referred_by\n"},
        {&s->veh, "vehicles.csv",
         "vin,customer_ext_id,model,plate,delivered_at,price,sale_kind\n"},
        {&s->ev, "events.csv", S_EV_COLS},
    };
    if (mkdir(dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "jipan-gen: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >=
                (int)sizeof path ||
            !(*files[i].f = fopen(path, "w"))) {
            fprintf(stderr, "jipan-gen: cannot write %s: %s\n", path, strerror(errno));
            return -1;
        }
        fputs(files[i].header, *files[i].f);
    }
    return 0;
}

static int
s_close(store_t *s)
{
    int rc = 0;
    FILE *f[3] = {s->cust, s->veh, s->ev};
    for (int i = 0; i < 3; i++) {
        if (f[i] && fclose(f[i]))
            rc = -1;
    }
    return rc;
}

/* Owners of store i that also service at store i+1: written after store i. */
typedef struct {
    person_t p;
    char vin[18];
    int64_t delivered;
} shared_t;

static int
s_generate(const opts_t *o)
{
    store_t *st = calloc((size_t)o->stores, sizeof *st);
    shared_t *sh = calloc((size_t)o->customers + 1, sizeof *sh);
    char path[4096];
    int rc = -1;
    if (!st || !sh)
        goto done;
    if (mkdir(o->out, 0755) && errno != EEXIST) {
        fprintf(stderr, "jipan-gen: cannot create %s: %s\n", o->out, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/stores.csv", o->out);
    FILE *sf = fopen(path, "w");
    if (!sf) {
        fprintf(stderr, "jipan-gen: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    fputs("store,code,name,region\n", sf);
    for (int i = 0; i < o->stores; i++) {
        store_t *s = &st[i];
        s->num = i + 1;
        s->reg = &s_regions[i % S_NREGIONS];
        snprintf(s->code, sizeof s->code, "%s%02d", s->reg->code, i / S_NREGIONS + 1);
        fprintf(sf, "%d,%s,%s%d号店,%s\n", s->num, s->code, s->reg->city,
                i / S_NREGIONS + 1, s->reg->city);
        snprintf(path, sizeof path, "%s/%s", o->out, s->code);
        if (s_open(s, path))
            goto done_sf;
    }
    for (int i = 0; i < o->stores; i++) {
        store_t *s = &st[i];
        int nshared = 0;
        for (int c = 0; c < o->customers; c++) {
            person_t p;
            s_new_person(s, &p, s_asof - s_range(1, 3 * 365));
            if (s_chance(0.45)) {
                bool conv;
                s_prospect(s, &p, S_PICK(s_sources), "", &conv);
                continue;
            }
            s_customer(s, &p, "", S_PICK(s_sources), "");
            char vin[18];
            int64_t delivered = p.created + s_range(0, 20);
            if (delivered > s_asof)
                delivered = s_asof;
            s_owner_life(s, &p, delivered, vin);
            if (s_chance(0.1)) { /* a second car, years later */
                int64_t d2 = delivered + s_range(300, 900);
                if (d2 <= s_asof)
                    s_owner_life(s, &p, d2, vin);
            }
            if (s_chance(0.1)) { /* referrals: leads who may buy */
                int n = (int)s_range(1, 4);
                for (int k = 0; k < n; k++) {
                    person_t lead;
                    int64_t day = s_range(delivered, s_asof);
                    s_new_person(s, &lead, day);
                    char cols[64];
                    snprintf(cols, sizeof cols, ",,,,,,,,,,,,%s,,", lead.ext);
                    bool conv;
                    s_prospect(s, &lead, "referral", p.ext, &conv);
                    s_event(s, p.ext, "referral", day, 840, cols, NULL);
                }
            }
            if (o->stores > 1 && s_chance(o->shared)) {
                sh[nshared].p = p;
                strcpy(sh[nshared].vin, vin);
                sh[nshared].delivered = delivered;
                nshared++;
            }
        }
        /* The same people at the next store: new rows, same phone and ID,
         * service visits on the car they bought here. */
        store_t *t = &st[(i + 1) % o->stores];
        for (int k = 0; k < nshared; k++) {
            person_t q = sh[k].p;
            snprintf(q.ext, sizeof q.ext, "C%s-%llu", t->code,
                     (unsigned long long)t->next_ext++);
            q.created = s_range(sh[k].delivered, s_asof);
            s_customer(t, &q, "", "other", "");
            for (int64_t day = q.created; day <= s_asof; day += s_range(120, 300))
                s_service(t, q.ext, sh[k].vin, s_chance(0.7) ? "periodic" : "repair", day,
                          (day - sh[k].delivered) * 40, s_range(300, 3000));
        }
    }
    rc = 0;
done_sf:
    if (fclose(sf))
        rc = -1;
done:
    if (st) {
        for (int i = 0; i < o->stores; i++) {
            if (s_close(&st[i]))
                rc = -1;
        }
    }
    free(st);
    free(sh);
    return rc;
}

static void
s_usage(FILE *f)
{
    fputs("usage: jipan-gen --out DIR [--stores N] [--customers C] [--seed S]\n"
          "                 [--shared F] [--as-of YYYY-MM-DD]\n"
          "\n"
          "Writes a dealer group's customer base as the CSV files that\n"
          "`jipan-store import` reads: DIR/stores.csv, and DIR/<code>/customers.csv,\n"
          "vehicles.csv, events.csv for each store. The same arguments always write\n"
          "the same bytes.\n"
          "\n"
          "  -o, --out DIR        output folder (created)\n"
          "  -n, --stores N       stores, spread over regions 惠州, 深圳, 广州 (default "
          "3)\n"
          "  -c, --customers C    customers per store, before referred leads (default "
          "2000)\n"
          "  -s, --seed S         seed (default 1)\n"
          "  -f, --shared F       share of owners who also service at the next store\n"
          "                       (default 0.05)\n"
          "  -a, --as-of DATE     every event is on or before this date (default "
          "2026-11-01)\n"
          "  -h, --help           this help\n",
          f);
}

int
main(int argc, char **argv)
{
    opts_t o = {3, 2000, 0.05, NULL};
    uint64_t seed = 1;
    const char *asof = "2026-11-01";
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"stores", required_argument, NULL, 'n'},
        {"customers", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 's'},
        {"shared", required_argument, NULL, 'f'},
        {"as-of", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "o:n:c:s:f:a:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.out = optarg;
            break;
        case 'n':
            o.stores = atoi(optarg);
            break;
        case 'c':
            o.customers = atoi(optarg);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            o.shared = atof(optarg);
            break;
        case 'a':
            asof = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    const char *why = NULL;
    if (!o.out || optind != argc || o.stores < 1 || o.stores > 999 || o.customers < 1 ||
        o.shared < 0 || o.shared > 1) {
        s_usage(stderr);
        return 2;
    }
    if (jp_parse_date(asof, strlen(asof), &s_asof, &why)) {
        fprintf(stderr, "jipan-gen: --as-of: %s\n", why);
        return 2;
    }
    s_seed(seed);
    if (s_generate(&o))
        return 3;
    fprintf(stderr, "jipan-gen: %d stores, %llu people, %llu vehicles, %llu rows in %s\n",
            o.stores, (unsigned long long)s_people, (unsigned long long)s_vins,
            (unsigned long long)s_rows, o.out);
    return 0;
}
