/*
 * schema.h -- the record model: kinds, fields, their types and enum words.
 *
 * One table (schema.c) is the single source of truth for every field: its
 * number on the wire, its name in CSV files and on the command line, its
 * type, and which kinds carry it.  The codec, the import, the CLI and the
 * timeline all read this table; nothing else lists fields.
 *
 * Field numbers are part of the wire and storage format: never renumber,
 * only append.
 */
#ifndef JP_SCHEMA_H
#define JP_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record kinds.  Customer and vehicle are mutable (per-field last writer
 * wins); every kind from JP_K_SERVICE on is an event: written once, never
 * edited, only voided by a tombstone. */
typedef enum {
    JP_K_NONE = 0,
    JP_K_CUSTOMER = 1,
    JP_K_VEHICLE = 2, /* a vehicle sold by a store: the sale */
    JP_K_SERVICE = 3,
    JP_K_CONTACT = 4,
    JP_K_COMPLAINT = 5,
    JP_K_COMPLAINT_CONTACT = 6,
    JP_K_COMPLAINT_RESOLVED = 7,
    JP_K_SURVEY = 8,
    JP_K_REFERRAL = 9,
    JP_K_INSURANCE = 10,
    JP_K_PACKAGE = 11,
    JP_K_DEFEAT = 12,
    JP_K_GRADE = 13,
    JP_K_LINK = 14, /* the server's record that two customer rows are one person */
    JP_K_COUNT
} jp_kind_t;

/* Value types, and how each is encoded in msgpack. */
typedef enum {
    JP_T_STR = 1,   /* UTF-8 text: msgpack str */
    JP_T_INT = 2,   /* integer: msgpack int */
    JP_T_TIME = 3,  /* instant, unix ms UTC: msgpack int */
    JP_T_DATE = 4,  /* civil date, days since 1970-01-01: msgpack int */
    JP_T_MONEY = 5, /* yuan in fen (1/100): msgpack int */
    JP_T_ENUM = 6,  /* 1-based index into the field's words: msgpack uint */
    JP_T_REF = 7,   /* a record id: msgpack bin 16 */
    JP_T_BOOL = 8,  /* msgpack bool */
} jp_type_t;

/* Field numbers (wire format). */
typedef enum {
    JP_F_DELETED = 0, /* bool: the tombstone */
    JP_F_EXT_ID = 1,
    JP_F_NAME = 2,
    JP_F_PHONE = 3,     /* E.164, e.g. +8613800138000 */
    JP_F_ID_NUMBER = 4, /* 18-character resident ID, upper-cased */
    JP_F_GENDER = 5,
    JP_F_BIRTHDAY = 6,
    JP_F_DISTRICT = 7,
    JP_F_SOURCE = 8,
    JP_F_GRADE = 9,
    JP_F_CREATED_AT = 10,
    JP_F_REFERRED_BY = 11, /* ref: the referring customer */
    JP_F_VIN = 12,
    JP_F_CUSTOMER = 13, /* ref: the customer the vehicle or event is of */
    JP_F_MODEL = 14,
    JP_F_PLATE = 15,
    JP_F_DELIVERED_AT = 16,
    JP_F_PRICE = 17,
    JP_F_SALE_KIND = 18,
    JP_F_AT = 19,
    JP_F_SERVICE_TYPE = 20,
    JP_F_MILEAGE = 21,
    JP_F_AMOUNT = 22,
    JP_F_CHANNEL = 23,
    JP_F_PURPOSE = 24,
    JP_F_SEVERITY = 25,
    JP_F_SUBJECT = 26,
    JP_F_COMPLAINT = 27, /* ref: the complaint a contact/resolution belongs to */
    JP_F_SATISFACTION = 28,
    JP_F_REPURCHASE = 29,
    JP_F_RECOMMEND = 30,
    JP_F_REFERRED = 31, /* ref: the lead a referral brought */
    JP_F_REASON = 32,
    JP_F_NOTE = 33,
    JP_F_LINK_A = 34, /* ref: link, the canonical (smaller) customer id */
    JP_F_LINK_B = 35, /* ref: link, the other customer id */
    JP_F_COUNT
} jp_field_id_t;

#define JP_MAX_FIELDS JP_F_COUNT /* a change sets each field at most once */
#define JP_MAX_STR 1024          /* bytes in one text value */

typedef struct {
    uint8_t id;               /* JP_F_* */
    uint8_t type;             /* JP_T_* */
    const char *name;         /* CSV column and CLI name */
    const char *const *words; /* JP_T_ENUM: NULL-terminated words, index 1.. */
    uint32_t kinds;           /* bit (1u << kind) for each kind that carries it */
    uint32_t required;        /* bit (1u << kind) where it must be set on create */
} jp_field_def_t;

/* The definition of field id, or NULL if unknown. */
const jp_field_def_t *jp_field_def(unsigned id);

/* The field called name that kind carries, or NULL. */
const jp_field_def_t *jp_field_by_name(jp_kind_t kind, const char *name);

/* Kind names as in events.csv ("service", "complaint_contact"), plus
 * "customer", "vehicle" and "link". */
const char *jp_kind_name(jp_kind_t kind);
jp_kind_t jp_kind_by_name(const char *name); /* JP_K_NONE if unknown */

static inline bool
jp_kind_is_event(jp_kind_t k)
{
    return k >= JP_K_SERVICE && k < JP_K_COUNT && k != JP_K_LINK;
}

static inline bool
jp_kind_has(jp_kind_t k, const jp_field_def_t *f)
{
    return (f->kinds >> k) & 1u;
}

/* Enum word <-> 1-based index; 0 / NULL when unknown. */
unsigned jp_enum_index(const jp_field_def_t *f, const char *word, size_t len);
const char *jp_enum_word(const jp_field_def_t *f, unsigned index);

#endif
