/*
 * schema.c -- the field table.
 *
 * Each row says which kinds carry a field and on which it is required when
 * the record is created.  Column and CLI names are the ones of
 * import-format.md, except the references: in a CSV they name an ext_id
 * (customer_ext_id, complaint_ext_id, referred_ext_id, referred_by), which
 * the import resolves to a record id.
 */
#include "schema.h"

#include "i18n.h"

#include <string.h>

#define K(k) (1u << (k))
#define EVENTS                                                                           \
    (K(JP_K_SERVICE) | K(JP_K_CONTACT) | K(JP_K_COMPLAINT) | K(JP_K_COMPLAINT_CONTACT) | \
     K(JP_K_COMPLAINT_RESOLVED) | K(JP_K_SURVEY) | K(JP_K_REFERRAL) |                    \
     K(JP_K_INSURANCE) | K(JP_K_PACKAGE) | K(JP_K_DEFEAT) | K(JP_K_GRADE))
#define ALL (K(JP_K_CUSTOMER) | K(JP_K_VEHICLE) | EVENTS | K(JP_K_LINK))

static const char *const s_gender[] = {NW_("gender", "M"), NW_("gender", "F"), NULL};
static const char *const s_source[] = {NW_("source", "walk_in"),
                                       NW_("source", "phone"),
                                       NW_("source", "referral"),
                                       NW_("source", "internet"),
                                       NW_("source", "exhibition"),
                                       NW_("source", "other"),
                                       NULL};
static const char *const s_grade[] = {NW_("grade", "O"),
                                      NW_("grade", "H"),
                                      NW_("grade", "A"),
                                      NW_("grade", "B"),
                                      NW_("grade", "C"),
                                      NW_("grade", "potential"),
                                      NULL};
static const char *const s_sale_kind[] = {NW_("sale_kind", "new"),
                                          NW_("sale_kind", "replacement"),
                                          NW_("sale_kind", "additional"), NULL};
static const char *const s_service_type[] = {NW_("service_type", "first_maintenance"),
                                             NW_("service_type", "periodic"),
                                             NW_("service_type", "repair"),
                                             NW_("service_type", "warranty"),
                                             NW_("service_type", "accident"),
                                             NW_("service_type", "accessory"),
                                             NULL};
static const char *const s_channel[] = {NW_("channel", "phone"),
                                        NW_("channel", "dm"),
                                        NW_("channel", "visit"),
                                        NW_("channel", "sms"),
                                        NW_("channel", "email"),
                                        NW_("channel", "wechat"),
                                        NULL};
static const char *const s_severity[] = {NW_("severity", "major"),
                                         NW_("severity", "minor"), NULL};
static const char *const s_subject[] = {
    NW_("subject", "sales"), NW_("subject", "service"), NW_("subject", "product"), NULL};
static const char *const s_repurchase[] = {
    NW_("repurchase", "high"), NW_("repurchase", "mid"), NW_("repurchase", "low"), NULL};
static const char *const s_recommend[] = {NW_("recommend", "very_likely"),
                                          NW_("recommend", "possible"),
                                          NW_("recommend", "unlikely"), NULL};
static const char *const s_reason[] = {NW_("reason", "price"),
                                       NW_("reason", "product"),
                                       NW_("reason", "competitor"),
                                       NW_("reason", "service"),
                                       NW_("reason", "financing"),
                                       NW_("reason", "other"),
                                       NULL};

static const jp_field_def_t s_fields[JP_F_COUNT] = {
    {JP_F_DELETED, JP_T_BOOL, "deleted", NULL, ALL, 0},
    {JP_F_EXT_ID, JP_T_STR, "ext_id", NULL, K(JP_K_CUSTOMER) | EVENTS,
     K(JP_K_CUSTOMER) | EVENTS},
    {JP_F_NAME, JP_T_STR, "name", NULL, K(JP_K_CUSTOMER), K(JP_K_CUSTOMER)},
    {JP_F_PHONE, JP_T_STR, "phone", NULL, K(JP_K_CUSTOMER), 0},
    {JP_F_ID_NUMBER, JP_T_STR, "id_number", NULL, K(JP_K_CUSTOMER), 0},
    {JP_F_GENDER, JP_T_ENUM, "gender", s_gender, K(JP_K_CUSTOMER), 0},
    {JP_F_BIRTHDAY, JP_T_DATE, "birthday", NULL, K(JP_K_CUSTOMER), 0},
    {JP_F_DISTRICT, JP_T_STR, "district", NULL, K(JP_K_CUSTOMER), 0},
    {JP_F_SOURCE, JP_T_ENUM, "source", s_source, K(JP_K_CUSTOMER), 0},
    {JP_F_GRADE, JP_T_ENUM, "grade", s_grade, K(JP_K_CUSTOMER) | K(JP_K_GRADE),
     K(JP_K_GRADE)},
    {JP_F_CREATED_AT, JP_T_TIME, "created_at", NULL, K(JP_K_CUSTOMER), K(JP_K_CUSTOMER)},
    {JP_F_REFERRED_BY, JP_T_REF, "referred_by", NULL, K(JP_K_CUSTOMER), 0},
    {JP_F_VIN, JP_T_STR, "vin", NULL, K(JP_K_VEHICLE) | K(JP_K_SERVICE),
     K(JP_K_VEHICLE) | K(JP_K_SERVICE)},
    {JP_F_CUSTOMER, JP_T_REF, "customer", NULL, K(JP_K_VEHICLE) | EVENTS,
     K(JP_K_VEHICLE) | EVENTS},
    {JP_F_MODEL, JP_T_STR, "model", NULL, K(JP_K_VEHICLE), K(JP_K_VEHICLE)},
    {JP_F_PLATE, JP_T_STR, "plate", NULL, K(JP_K_VEHICLE), 0},
    {JP_F_DELIVERED_AT, JP_T_TIME, "delivered_at", NULL, K(JP_K_VEHICLE),
     K(JP_K_VEHICLE)},
    {JP_F_PRICE, JP_T_MONEY, "price", NULL, K(JP_K_VEHICLE), 0},
    {JP_F_SALE_KIND, JP_T_ENUM, "sale_kind", s_sale_kind, K(JP_K_VEHICLE), 0},
    {JP_F_AT, JP_T_TIME, "at", NULL, EVENTS, EVENTS},
    {JP_F_SERVICE_TYPE, JP_T_ENUM, "service_type", s_service_type, K(JP_K_SERVICE),
     K(JP_K_SERVICE)},
    {JP_F_MILEAGE, JP_T_INT, "mileage", NULL, K(JP_K_SERVICE), 0},
    {JP_F_AMOUNT, JP_T_MONEY, "amount", NULL,
     K(JP_K_SERVICE) | K(JP_K_INSURANCE) | K(JP_K_PACKAGE), 0},
    {JP_F_CHANNEL, JP_T_ENUM, "channel", s_channel,
     K(JP_K_CONTACT) | K(JP_K_COMPLAINT_CONTACT), K(JP_K_CONTACT)},
    {JP_F_PURPOSE, JP_T_STR, "purpose", NULL, K(JP_K_CONTACT), 0},
    {JP_F_SEVERITY, JP_T_ENUM, "severity", s_severity, K(JP_K_COMPLAINT),
     K(JP_K_COMPLAINT)},
    {JP_F_SUBJECT, JP_T_ENUM, "subject", s_subject, K(JP_K_COMPLAINT), K(JP_K_COMPLAINT)},
    {JP_F_COMPLAINT, JP_T_REF, "complaint", NULL,
     K(JP_K_COMPLAINT_CONTACT) | K(JP_K_COMPLAINT_RESOLVED),
     K(JP_K_COMPLAINT_CONTACT) | K(JP_K_COMPLAINT_RESOLVED)},
    {JP_F_SATISFACTION, JP_T_INT, "satisfaction", NULL, K(JP_K_SURVEY), K(JP_K_SURVEY)},
    {JP_F_REPURCHASE, JP_T_ENUM, "repurchase", s_repurchase, K(JP_K_SURVEY),
     K(JP_K_SURVEY)},
    {JP_F_RECOMMEND, JP_T_ENUM, "recommend", s_recommend, K(JP_K_SURVEY), K(JP_K_SURVEY)},
    {JP_F_REFERRED, JP_T_REF, "referred", NULL, K(JP_K_REFERRAL), K(JP_K_REFERRAL)},
    {JP_F_REASON, JP_T_ENUM, "reason", s_reason, K(JP_K_DEFEAT), K(JP_K_DEFEAT)},
    {JP_F_NOTE, JP_T_STR, "note", NULL, K(JP_K_CUSTOMER) | EVENTS, 0},
    {JP_F_LINK_A, JP_T_REF, "link_a", NULL, K(JP_K_LINK), K(JP_K_LINK)},
    {JP_F_LINK_B, JP_T_REF, "link_b", NULL, K(JP_K_LINK), K(JP_K_LINK)},
};

static const char *const s_kind_names[JP_K_COUNT] = {
    [JP_K_NONE] = NULL,
    [JP_K_CUSTOMER] = NW_("kind", "customer"),
    [JP_K_VEHICLE] = NW_("kind", "vehicle"),
    [JP_K_SERVICE] = NW_("kind", "service"),
    [JP_K_CONTACT] = NW_("kind", "contact"),
    [JP_K_COMPLAINT] = NW_("kind", "complaint"),
    [JP_K_COMPLAINT_CONTACT] = NW_("kind", "complaint_contact"),
    [JP_K_COMPLAINT_RESOLVED] = NW_("kind", "complaint_resolved"),
    [JP_K_SURVEY] = NW_("kind", "survey"),
    [JP_K_REFERRAL] = NW_("kind", "referral"),
    [JP_K_INSURANCE] = NW_("kind", "insurance"),
    [JP_K_PACKAGE] = NW_("kind", "package"),
    [JP_K_DEFEAT] = NW_("kind", "defeat"),
    [JP_K_GRADE] = NW_("kind", "grade"),
    [JP_K_LINK] = NW_("kind", "link"),
};

const jp_field_def_t *
jp_field_def(unsigned id)
{
    return id < JP_F_COUNT ? &s_fields[id] : NULL;
}

const jp_field_def_t *
jp_field_by_name(jp_kind_t kind, const char *name)
{
    for (unsigned i = 0; i < JP_F_COUNT; i++) {
        if (jp_kind_has(kind, &s_fields[i]) && strcmp(s_fields[i].name, name) == 0)
            return &s_fields[i];
    }
    return NULL;
}

const char *
jp_kind_name(jp_kind_t kind)
{
    return kind > JP_K_NONE && kind < JP_K_COUNT ? s_kind_names[kind] : "unknown";
}

jp_kind_t
jp_kind_by_name(const char *name)
{
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
        if (strcmp(s_kind_names[k], name) == 0)
            return (jp_kind_t)k;
    }
    return JP_K_NONE;
}

unsigned
jp_enum_index(const jp_field_def_t *f, const char *word, size_t len)
{
    if (!f->words)
        return 0;
    for (unsigned i = 0; f->words[i]; i++) {
        if (strlen(f->words[i]) == len && memcmp(f->words[i], word, len) == 0)
            return i + 1;
    }
    return 0;
}

const char *
jp_enum_word(const jp_field_def_t *f, unsigned index)
{
    if (!f->words || index == 0)
        return NULL;
    for (unsigned i = 0; f->words[i]; i++) {
        if (i + 1 == index)
            return f->words[i];
    }
    return NULL;
}
