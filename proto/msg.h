/*
 * msg.h -- the messages of the jipan sync protocol, version 2.
 *
 * proto/PROTOCOL.md is the specification; this header is its C form, and
 * tests/test_proto.c reads that document and fails if the two disagree (a
 * message, an element count or type, an error code or a limit).
 *
 * Every message is one msgpack array [type, elements...].  jp_msg_t holds
 * any of them: `type` says which member of the union is valid.  Decoding
 * copies numbers and the fixed-size byte strings (hash, pub, sig) into the
 * struct; text and lists of changes are *borrowed*: they point into the
 * frame that was decoded and live as long as it.  Lists of changes are not
 * unpacked into memory: a jp_msg_list_t keeps the list's bytes and count, and
 * jp_msg_next_change() / jp_msg_next_entry() walk them.
 *
 * The decoder reads with an end pointer and never trusts a length; on any
 * input it returns 0 or one of:
 *
 *   JP_ECORRUPT  malformed: not an array, wrong element count, an element of
 *                the wrong type (incl. a hash that is not 32 bytes, a str
 *                that is not UTF-8, a repeated QUERY key), truncated, or
 *                trailing bytes after the array;
 *   JP_ETOOBIG   a limit of section 6 exceeded: the frame, a str/bin/array
 *                length or count;
 *   JP_EVERSION  an unknown message type.
 *
 * Answering a peer: JP_ECORRUPT and JP_ETOOBIG are protocol error 2
 * (malformed), JP_EVERSION is protocol error 3 (unknown message) -- not 4
 * (version), which is about the HELLO handshake; jp_msg_perr() does that
 * mapping.
 */
#ifndef JP_MSG_H
#define JP_MSG_H

#include "buf.h"
#include "crypto.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_PROTO_VERSION 3 /* the version this code speaks (and the only one) */

/* Limits (PROTOCOL.md section 6). */
#define JP_MSG_MAX_FRAME (4u * 1024 * 1024) /* bytes in one frame */
#define JP_MSG_MAX_CHANGE (64u * 1024)      /* bytes in one change (= JP_MAX_CHANGE) */
#define JP_MSG_MAX_BATCH (1024u * 1024)     /* bytes of changes in one PUSH, at most */
#define JP_MSG_MAX_CHANGES 65536u           /* changes in one PUSH or CHANGES */
#define JP_MSG_MAX_CREDIT 64u               /* credit (checked by the server, not here) */
#define JP_MSG_MAX_IDS 65536u /* record ids in one VIEWIDS or FETCH */
/* SIGNED (to a standby): a batch signature is store be16 | first be64 |
 * last be64 | accepted ms be64 | pub 32 | sig 64; a receipt is store be16
 * | seq be64 | server ms be64 | sig 64. */
#define JP_MSG_SIGNED_BATCH 122u
#define JP_MSG_SIGNED_RECEIPT 82u
#define JP_MSG_MAX_FETCH 1024u /* ids the server answers in one FETCH (checked by it) */
#define JP_MSG_MAX_TEXT 256u /* bytes of agent, what, args, reason, error message */
#define JP_MSG_MAX_ARGS 16u  /* key/value pairs in QUERY args */
#define JP_MSG_MAX_AHEAD_MS (5u * 60 * 1000) /* hlc ahead of the server clock */
/* The server's bounds (section 5, section 1): sessions, and the messages
 * queued to one client before its session ends for not reading. */
#define JP_MSG_MAX_KEY_SESSIONS 8u
#define JP_MSG_MAX_PRINCIPAL_SESSIONS 32u
#define JP_MSG_MAX_SESSIONS 4096u
#define JP_MSG_MAX_QUEUED 4096u

/* Message types (section 3). */
typedef enum {
    JP_MSG_HELLO = 1,
    JP_MSG_WELCOME = 2,
    JP_MSG_PUSH = 16,
    JP_MSG_RECEIPT = 17,
    JP_MSG_PULL = 32,
    JP_MSG_CHANGES = 33,
    JP_MSG_CREDIT = 34,
    JP_MSG_VIEW = 35,
    JP_MSG_VIEWIDS = 36,
    JP_MSG_FETCH = 37,
    JP_MSG_RECORDS = 38,
    JP_MSG_RETURN = 39,
    JP_MSG_RETURNED = 40,
    JP_MSG_SIGNED = 41,
    JP_MSG_PING = 48,
    JP_MSG_PONG = 49,
    JP_MSG_QUERY = 64,
    JP_MSG_ANSWER = 65,
    JP_MSG_BYE = 126,
    JP_MSG_ERROR = 127,
} jp_msg_type_t;

/* Protocol error codes, carried in ERROR.code (section 4). */
typedef enum {
    JP_PERR_INTERNAL = 1,   /* the server failed (disk, database) */
    JP_PERR_MALFORMED = 2,  /* a frame or change does not decode */
    JP_PERR_UNKNOWN = 3,    /* unknown message type */
    JP_PERR_VERSION = 4,    /* no common protocol version */
    JP_PERR_NO_HELLO = 5,   /* message before the handshake */
    JP_PERR_IDENTITY = 6,   /* the principal may not write or claim that store */
    JP_PERR_CHAIN = 7,      /* seq gap, prev hash or a changed old entry */
    JP_PERR_SIGNATURE = 8,  /* batch signature does not verify */
    JP_PERR_FUTURE = 9,     /* an hlc more than 5 minutes ahead */
    JP_PERR_FORBIDDEN = 10, /* role may not read that scope */
    JP_PERR_REVOKED = 11,   /* the key was revoked during the session */
    JP_PERR_BUSY = 12,      /* too many batches in flight */
    JP_PERR_FULL = 13,      /* the server's disk or map is full */
} jp_perr_t;

/* Borrowed text: UTF-8, not NUL-terminated. */
typedef struct {
    const char *p; /* borrowed; may be NULL when n is 0 */
    size_t n;      /* bytes */
} jp_msg_str_t;

/* A borrowed list: PUSH changes or CHANGES entries, still msgpack-encoded. */
typedef struct {
    const uint8_t *p; /* borrowed: the list's elements, after its array header */
    size_t len;       /* bytes of those elements */
    uint32_t count;   /* elements, at most JP_MSG_MAX_CHANGES */
} jp_msg_list_t;

/* QUERY arguments. */
typedef struct {
    uint32_t n; /* pairs used in v[] */
    struct {
        jp_msg_str_t key; /* unique within the map */
        jp_msg_str_t val;
    } v[JP_MSG_MAX_ARGS];
} jp_msg_args_t;

/* Any message; `type` selects the member of the union. */
typedef struct {
    int type; /* JP_MSG_* */
    union {
        struct {
            uint64_t min_version; /* lowest protocol version the client speaks */
            uint64_t max_version; /* highest */
            uint64_t store;       /* the client's store number, 0 if not a store */
            jp_msg_str_t agent;   /* program name and version, <= JP_MSG_MAX_TEXT */
        } hello;
        struct {
            uint64_t version;               /* the version chosen */
            uint8_t server_pub[JP_PUB_LEN]; /* Ed25519 key the receipts are signed with */
            uint64_t acked_seq; /* last seq of this store accepted, 0 if none */
            uint8_t acked_head[JP_HASH_LEN]; /* hash of that change, 0s if none */
            uint64_t group_pos;              /* length of the group log */
            uint64_t server_ms;              /* server clock, unix ms */
            uint64_t credit;                 /* PUSH batches allowed unanswered */
            uint64_t max_batch;              /* bytes of changes in one PUSH */
            uint64_t term; /* the primary's generation: one more at each promotion */
        } welcome;
        struct {
            uint64_t batch;          /* the client's batch counter */
            uint64_t store;          /* the pushing store */
            uint64_t first_seq;      /* seq of the first change */
            uint64_t last_seq;       /* seq of the last change */
            jp_msg_list_t changes;   /* each a bin: one encoded change */
            uint8_t sig[JP_SIG_LEN]; /* store's signature of jp_batch_msg() */
        } push;
        struct {
            uint64_t batch;            /* the PUSH this answers */
            uint64_t store;            /* the store */
            uint64_t seq;              /* accepted up to this seq */
            uint8_t head[JP_HASH_LEN]; /* hash of change seq */
            uint64_t server_ms;        /* server clock at acceptance, unix ms */
            uint8_t sig[JP_SIG_LEN];   /* server's signature of jp_receipt_msg() */
        } receipt;
        struct {
            uint64_t after_pos; /* send group log entries after this position */
            uint64_t credit;    /* CHANGES messages allowed */
            bool own;           /* include the client store's own changes (recovery) */
        } pull;
        struct {
            uint64_t from_pos;     /* first group log position covered */
            uint64_t to_pos;       /* last position covered: the client's new cursor */
            jp_msg_list_t entries; /* each an array [store, pos, change bin] */
            bool more;             /* false: the stream ended at to_pos */
            uint64_t view_count;   /* more false: records of the store's view */
            uint8_t view_hash[JP_HASH_LEN]; /* and the SHA-256 of their ids */
            uint8_t sig[JP_SIG_LEN];        /* server's signature (vouch.h) */
        } changes;
        struct {
            uint8_t after[16]; /* list the view's ids after this one (0s: all) */
        } view;
        struct {
            uint8_t after[16];       /* the VIEW's after, echoed */
            jp_msg_str_t ids;        /* 16 bytes each, in id order */
            bool more;               /* false: the last part */
            uint64_t view_pos;       /* the group log position of the view */
            uint8_t sig[JP_SIG_LEN]; /* server's signature (vouch.h) */
        } viewids;
        struct {
            jp_msg_str_t ids; /* 16 bytes each */
        } fetch;
        struct {
            jp_msg_list_t entries;   /* as CHANGES' */
            bool more;               /* false: the FETCH is answered */
            uint8_t sig[JP_SIG_LEN]; /* server's signature (vouch.h) */
        } records;
        struct {
            jp_msg_list_t changes; /* each a bin: one of the server's own changes */
            bool done;             /* the store has returned all it holds */
        } ret;
        struct {
            uint64_t own_seq; /* the server's own log: held or returned, gapless */
            bool recovering;  /* the server is restored and taking its log back */
        } returned;
        struct {
            jp_msg_str_t batches;  /* JP_MSG_SIGNED_BATCH bytes each */
            jp_msg_str_t receipts; /* JP_MSG_SIGNED_RECEIPT bytes each */
        } sigs;
        struct {
            uint64_t credit; /* CHANGES messages added */
        } credit;
        struct {
            uint64_t ms; /* sender's clock, unix ms */
        } ping;
        struct {
            uint64_t ms; /* the PING's ms, echoed */
        } pong;
        struct {
            uint64_t id;        /* client's query id, echoed in ANSWER/ERROR */
            jp_msg_str_t what;  /* report, record, status */
            jp_msg_args_t args; /* parameters, as strings */
        } query;
        struct {
            uint64_t id;       /* the QUERY's id */
            jp_msg_str_t body; /* JSON */
        } answer;
        struct {
            jp_msg_str_t reason; /* for the log, <= JP_MSG_MAX_TEXT */
        } bye;
        struct {
            int64_t code;         /* JP_PERR_* */
            uint64_t ref;         /* batch or query id it answers, 0 if none */
            jp_msg_str_t message; /* for a person, <= JP_MSG_MAX_TEXT */
        } error;
    };
} jp_msg_t;

/* "HELLO" for JP_MSG_HELLO...; NULL for a type the codec does not know. */
const char *jp_msg_type_name(int type);

/* Number of elements after the type, and the name of element i as the
 * specification spells it ("min_version"); 0 / NULL for an unknown type or
 * i out of range. */
unsigned jp_msg_elements(int type);
const char *jp_msg_element_name(int type, unsigned i);

/* "malformed" for JP_PERR_MALFORMED...; NULL for an unknown code. */
const char *jp_perr_name(int code);

/* The protocol error code that answers a jp_msg_decode() failure:
 * JP_ECORRUPT, JP_ETOOBIG -> JP_PERR_MALFORMED; JP_EVERSION ->
 * JP_PERR_UNKNOWN; anything else -> JP_PERR_INTERNAL. */
int jp_msg_perr(int rc);

/* Decode exactly n bytes (one frame) into out; see the codes above.  out's
 * text and lists borrow from p.  On failure out is zeroed except for
 * `type` (the type read, or 0) and err says what and where. */
int jp_msg_decode(const uint8_t *p, size_t n, jp_msg_t *out, jp_err_t *err);

/* Append the encoding of m to out.  Lists (PUSH changes, CHANGES entries)
 * are copied as they are, after a bounds check of their bytes.  Returns 0
 * or: JP_ETOOBIG if m exceeds a limit (text, args, list count, a change, the
 * frame); JP_ECORRUPT if a list's bytes are not `count` well-formed
 * elements; JP_EINVAL for an unknown type, text that is not UTF-8 or
 * repeated args keys; JP_ENOMEM.  On failure out is as it was. */
int jp_msg_encode(const jp_msg_t *m, jp_buf_t *out);

/* Incremental PUSH / RETURN / CHANGES / RECORDS: the changes are appended
 * one by one, as the caller reads them, without building a list first.
 *
 *     jp_msg_begin(&b, out, &m, count);   m.type PUSH, RETURN, CHANGES or
 *                                         RECORDS;
 *                                         the elements before the list
 *                                         are taken from m, the list ignored
 *     jp_msg_add_change(&b, p, n);        count times (PUSH, RETURN), or
 *     jp_msg_add_entry(&b, store, pos, p, n);  count times (the others)
 *     jp_msg_end(&b, &m);                 the elements after the list
 *                                         (PUSH sig, CHANGES more...)
 *
 * Each returns 0 or: JP_ETOOBIG (count > JP_MSG_MAX_CHANGES, a change >
 * JP_MSG_MAX_CHANGE bytes, the frame over JP_MSG_MAX_FRAME), JP_EINVAL
 * (wrong type, more or fewer changes than count), JP_ENOMEM.  After a
 * failure out is as it was before begin and every later call on b returns
 * that same code. */
typedef struct {
    jp_buf_t *out;  /* the buffer the message is appended to */
    size_t start;   /* out->len before the message: where to roll back to */
    int type;       /* JP_MSG_PUSH, _RETURN, _CHANGES or _RECORDS */
    uint32_t count; /* changes announced in the list header */
    uint32_t added; /* changes appended so far */
    int rc;         /* first failure, then returned by every call */
} jp_msg_builder_t;

int jp_msg_begin(jp_msg_builder_t *b, jp_buf_t *out, const jp_msg_t *m, uint32_t count);
int jp_msg_add_change(jp_msg_builder_t *b, const uint8_t *p, size_t n);
int jp_msg_add_entry(jp_msg_builder_t *b, uint64_t store, uint64_t pos, const uint8_t *p,
                     size_t n);
int jp_msg_end(jp_msg_builder_t *b, const jp_msg_t *m);

/* Walking a list: 1 and the next element's borrowed bytes, 0 at the end,
 * JP_ECORRUPT / JP_ETOOBIG if the list's bytes are bad (never for a list
 * that jp_msg_decode() returned: it checked every element).
 *
 *     jp_msg_iter_t it;
 *     jp_msg_iter_init(&it, &m.push.changes);
 *     while ((rc = jp_msg_next_change(&it, &p, &n)) > 0) ...
 */
typedef struct {
    const uint8_t *p;   /* next element */
    const uint8_t *end; /* one past the list's last byte */
    uint32_t left;      /* elements not yet yielded */
} jp_msg_iter_t;

void jp_msg_iter_init(jp_msg_iter_t *it, const jp_msg_list_t *list);
/* PUSH and RETURN changes: one change's bytes. */
int jp_msg_next_change(jp_msg_iter_t *it, const uint8_t **p, size_t *n);
/* CHANGES and RECORDS entries: the store that wrote it, its group log
 * position, and the change's bytes. */
int jp_msg_next_entry(jp_msg_iter_t *it, uint64_t *store, uint64_t *pos, const uint8_t **p,
                      size_t *n);

/* The receipt message a RECEIPT signs is jp_receipt_msg() in crypto.h. */

#endif
