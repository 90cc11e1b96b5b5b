/*
 * codec.h -- msgpack encoding of changes and record states.
 *
 * The byte layout is specified in docs/FORMAT.md; in short:
 *
 *   change  = array(9) [ version:uint(=1), store:uint, seq:uint, hlc:uint,
 *                        id:bin(16), kind:uint, author:str, prev:bin(32),
 *                        fields:map{ field:uint => value } ]
 *   record  = array(3) [ version:uint(=1), kind:uint,
 *                        fields:array[ array(4) [field:uint, hlc:uint,
 *                                                store:uint, value] ] ]
 *
 * Values: STR str; INT/TIME/DATE/MONEY int; ENUM uint; REF bin(16); BOOL
 * bool; a cleared field nil.  Map keys and field entries ascend strictly.
 * The encoding is canonical: msgpack-c's smallest forms, and decoders
 * refuse anything else that could give the same data two byte forms
 * (unsorted or duplicate keys, wrong types, trailing bytes), so that the
 * SHA-256 of a change and the digest of a state are well defined.
 *
 * Decoders never trust a length: truncated, oversized (> JP_MAX_CHANGE
 * bytes, strings > JP_MAX_STR) or malformed input returns JP_ECORRUPT /
 * JP_ETOOBIG / JP_EVERSION with a message, never a crash.  Decoded text
 * and ids borrow from the input bytes.
 */
#ifndef JP_CODEC_H
#define JP_CODEC_H

#include "buf.h"
#include "err.h"
#include "record.h"

#define JP_CODEC_VERSION 1
#define JP_MAX_CHANGE (64 * 1024) /* bytes in one encoded change */

/* Append the encoding of ch to out. */
int jp_change_encode(const jp_change_t *ch, jp_buf_t *out);

/* Decode exactly n bytes into ch; validates every field against the schema
 * (known field, carried by the kind, right type, enum in range). */
int jp_change_decode(const uint8_t *p, size_t n, jp_change_t *ch, jp_err_t *err);

/* Append the encoding of r's state to out. */
int jp_record_encode(const jp_record_t *r, jp_buf_t *out);

/* Decode a state; id is the LMDB key it was stored under. */
int jp_record_decode(const uint8_t *p, size_t n, const jp_id_t *id, jp_record_t *r,
                     jp_err_t *err);

#endif
