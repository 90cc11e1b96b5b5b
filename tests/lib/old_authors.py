#!/usr/bin/env python3
"""old_authors.py STORE_DIR STORE SEQ=AUTHOR_BYTES...

Makes a store's log what a version without the author check left behind:
the changes at the given seqs get an author of that many bytes ('张', 3
bytes each, when a multiple of 3, else 'a'), encoded as msgpack would (no limit), and every
change from the first one on is re-chained (prev = SHA-256 of the one
before) and the head moved, through LMDB's own mdb_dump and mdb_load.
For tests/store_repair.sh; needs lmdb-utils."""
import hashlib
import subprocess
import sys


def dump(env, db):
    out = subprocess.run(["mdb_dump", "-s", db, env], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    head, rows, i = [], [], 0
    while out[i] != "HEADER=END":
        if not out[i].startswith("db_pagesize="):  # mdb_load does not read it
            head.append(out[i])
        i += 1
    i += 1
    while out[i] != "DATA=END":
        rows.append((bytes.fromhex(out[i].strip()), bytes.fromhex(out[i + 1].strip())))
        i += 2
    return head, rows


def load(env, db, head, rows):
    text = "\n".join(head + ["HEADER=END"] +
                     [f" {k.hex()}\n {v.hex()}" for k, v in rows] + ["DATA=END", ""])
    subprocess.run(["mdb_load", "-s", db, env], input=text, text=True, check=True)


def uint_len(b, i):
    """Bytes of the msgpack unsigned integer at b[i]."""
    c = b[i]
    return 1 if c < 0x80 else {0xcc: 2, 0xcd: 3, 0xce: 5, 0xcf: 9}[c]


def split(b):
    """(bytes before the author, author, bytes after prev) of a change."""
    assert b[0] == 0x99, "not a change"
    i = 1
    for _ in range(4):  # version, store, seq, hlc
        i += uint_len(b, i)
    assert b[i] == 0xc4 and b[i + 1] == 16
    i += 18  # id
    i += uint_len(b, i)  # kind
    start, c = i, b[i]
    if 0xa0 <= c <= 0xbf:
        n, i = c & 0x1f, i + 1
    elif c == 0xd9:
        n, i = b[i + 1], i + 2
    elif c == 0xda:
        n, i = int.from_bytes(b[i + 1:i + 3], "big"), i + 3
    else:
        n, i = int.from_bytes(b[i + 1:i + 5], "big"), i + 5
    author = b[i:i + n]
    i += n
    assert b[i] == 0xc4 and b[i + 1] == 32, "no prev"
    return b[:start], author, b[i + 34:]


def pack_str(s):
    n = len(s)
    if n < 32:
        return bytes([0xa0 | n]) + s
    if n < 256:
        return bytes([0xd9, n]) + s
    if n < 65536:
        return b"\xda" + n.to_bytes(2, "big") + s
    return b"\xdb" + n.to_bytes(4, "big") + s


def main():
    env, store = sys.argv[1], int(sys.argv[2])
    want = {}
    for a in sys.argv[3:]:
        seq, nbytes = a.split("=")
        nbytes = int(nbytes)
        want[int(seq)] = ("张".encode() * (nbytes // 3 + 1))[:nbytes] if nbytes % 3 == 0 \
            else b"a" * nbytes
    head, rows = dump(env, "log")
    first = min(want)
    prev = None
    out = []
    for k, v in rows:
        st, seq = int.from_bytes(k[:2], "big"), int.from_bytes(k[2:], "big")
        if st != store or seq < first - 1:
            out.append((k, v))
            continue
        if seq == first - 1:
            prev = hashlib.sha256(v).digest() if seq else bytes(32)
            out.append((k, v))
            continue
        if prev is None:
            prev = bytes(32)
        pre, author, post = split(v)
        v = pre + pack_str(want.get(seq, author)) + b"\xc4\x20" + prev + post
        prev = hashlib.sha256(v).digest()
        last = seq
        out.append((k, v))
    load(env, "log", head, out)
    hhead, hrows = dump(env, "heads")
    hrows = [(k, v[:8] + prev + v[40:]) if int.from_bytes(k, "big") == store else (k, v)
             for k, v in hrows]
    assert last == int.from_bytes(dict(hrows)[store.to_bytes(2, "big")][:8], "big")
    load(env, "heads", hhead, hrows)


main()
