#!/usr/bin/env python3
"""audit_tamper.py -- alter an export file (docs/EXPORT.md) the ways an
attacker would, for tests/audit_e2e.sh.  Reads and writes the records with
its own small msgpack reader/writer (the five forms the format uses), so
that unchanged records come out byte for byte.

usage: audit_tamper.py OP IN OUT [ARGS]
  flip POS              flip the last bit of the change at position POS
  drop POS              remove the entry at position POS
  swap POS              swap the entries at POS and POS+1 (records only)
  dupbatch N            insert a copy of the N-th batch (entries, batch,
                        receipt) right after it
  resign N KEY [pub]    sign the N-th batch again with the Ed25519 KEY (PEM);
                        with "pub", also put KEY's public key in the record
  seq POS NEW           write seq NEW inside the change at POS
  droptail STORE KEY    a dishonest server: remove STORE's last batch,
                        renumber, and re-sign END with the server's KEY
  addkey STORE EVIL SRV a dishonest server: list EVIL (PEM) as a second key
                        of STORE, sign STORE's batches with it, re-sign END
                        with the server's key SRV
  replacekey STORE EVIL SRV   the same, EVIL in place of STORE's key
  serverkey STORE SRV   the same with the server's own key as STORE's
Prints what it did: "pos P store S seq Q" of the entry concerned.
"""
import hashlib
import struct
import subprocess
import sys
import tempfile
import os


def rd(b, i):
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if 0x90 <= t <= 0x9f:
        n, i = t & 15, i + 1
        out = []
        for _ in range(n):
            v, i = rd(b, i)
            out.append(v)
        return out, i
    if 0xa0 <= t <= 0xbf:
        n = t & 31
        return b[i + 1:i + 1 + n].decode(), i + 1 + n
    if t == 0xc0:
        return None, i + 1
    if t in (0xcc, 0xcd, 0xce, 0xcf):
        w = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[t]
        return int.from_bytes(b[i + 1:i + 1 + w], "big"), i + 1 + w
    if t in (0xc4, 0xc5, 0xc6):
        w = {0xc4: 1, 0xc5: 2, 0xc6: 4}[t]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        return bytes(b[i + 1 + w:i + 1 + w + n]), i + 1 + w + n
    if t == 0xd9:
        n = b[i + 1]
        return b[i + 2:i + 2 + n].decode(), i + 2 + n
    raise ValueError("byte %d: form 0x%02x" % (i, t))


def wr(v):
    if v is None:
        return b"\xc0"
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(wr(x) for x in v)
    if isinstance(v, int):
        if v < 128:
            return bytes([v])
        for t, w in ((0xcc, 1), (0xcd, 2), (0xce, 4), (0xcf, 8)):
            if v < 1 << (8 * w):
                return bytes([t]) + v.to_bytes(w, "big")
    if isinstance(v, str):
        e = v.encode()
        return (bytes([0xa0 | len(e)]) if len(e) < 32 else bytes([0xd9, len(e)])) + e
    if isinstance(v, bytes):
        n = len(v)
        if n <= 0xff:
            return bytes([0xc4, n]) + v
        if n <= 0xffff:
            return b"\xc5" + n.to_bytes(2, "big") + v
        return b"\xc6" + n.to_bytes(4, "big") + v
    raise TypeError(v)


def load(path):
    b = open(path, "rb").read()
    recs, i = [], 0
    while i < len(b):
        v, i = rd(b, i)
        recs.append(v)
    return recs


def save(path, recs):
    open(path, "wb").write(b"".join(wr(r) for r in recs))


def entry_at(recs, pos):
    for k, r in enumerate(recs):
        if r[0] == 4 and r[1] == pos:
            return k
    sys.exit("no entry at position %d" % pos)


def batch_no(recs, n):
    seen = 0
    for k, r in enumerate(recs):
        if r[0] == 5:
            seen += 1
            if seen == n:
                return k
    sys.exit("no batch %d" % n)


def sign(keyfile, msg):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(msg)
    try:
        return subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", keyfile, "-rawin",
                               "-in", f.name], check=True, capture_output=True).stdout
    finally:
        os.unlink(f.name)


def pub_of(keyfile):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return der[-32:]


def resign_batches(recs, store, keyfile):
    """Sign every batch of store again with keyfile, its key in the record."""
    pub = pub_of(keyfile)
    n = 0
    for r in recs:
        if r[0] == 5 and r[1] == store:
            head = hashlib.sha256(change_of(recs, store, r[3])).digest()
            msg = b"jipan-batch-1\0" + struct.pack(">HQQ", store, r[2], r[3]) + head
            r[5] = pub
            r[6] = sign(keyfile, msg)
            n += 1
    return n


def resign_end(recs, keyfile):
    """END again over the records as they are, signed with keyfile."""
    end = recs[-1]
    body = b"".join(wr(r) for r in recs[:-1])
    end[5] = hashlib.sha256(body).digest()
    h = recs[0]
    msg = (b"jipan-state-1\0" + struct.pack(">HQQQ", h[6], end[1], h[9], end[2]) +
           end[3] + (end[4] or bytes(32)) + end[5])
    end[7] = sign(keyfile, msg)


def change_of(recs, store, seq):
    for r in recs:
        if r[0] == 4 and r[2] == store and r[3] == seq:
            return r[4]
    sys.exit("no change %d/%d" % (store, seq))


def main():
    op, src, dst = sys.argv[1:4]
    a = sys.argv[4:]
    recs = load(src)
    if op == "flip":
        k = entry_at(recs, int(a[0]))
        ch = bytearray(recs[k][4])
        ch[-1] ^= 1
        recs[k][4] = bytes(ch)
    elif op == "drop":
        k = entry_at(recs, int(a[0]))
        r = recs[k]
        del recs[k]
        save(dst, recs)
        print("pos %d store %d seq %d" % (r[1], r[2], r[3]))
        return
    elif op == "swap":
        k = entry_at(recs, int(a[0]))
        j = entry_at(recs, int(a[0]) + 1)
        recs[k], recs[j] = recs[j], recs[k]
    elif op == "dupbatch":
        k = batch_no(recs, int(a[0]))
        st, first, last = recs[k][1], recs[k][2], recs[k][3]
        end = k + 1 if k + 1 < len(recs) and recs[k + 1][0] == 6 else k
        start = k
        while start > 0 and recs[start - 1][0] == 4 and recs[start - 1][2] == st and \
                recs[start - 1][3] >= first:
            start -= 1
        copy = [list(r) for r in recs[start:end + 1]]
        recs[end + 1:end + 1] = copy
        k = start
    elif op == "resign":
        k = batch_no(recs, int(a[0]))
        st, first, last = recs[k][1], recs[k][2], recs[k][3]
        head = hashlib.sha256(change_of(recs, st, last)).digest()
        msg = b"jipan-batch-1\0" + struct.pack(">HQQ", st, first, last) + head
        recs[k][6] = sign(a[1], msg)
        if len(a) > 2 and a[2] == "pub":
            recs[k][5] = pub_of(a[1])
        k -= 1
    elif op == "seq":
        k = entry_at(recs, int(a[0]))
        ch = recs[k][4]
        # [0x99, version, store, seq, ...]: re-encode the seq element
        _, i = rd(ch, 1)
        _, i = rd(ch, i)
        old, j = rd(ch, i)
        recs[k][4] = ch[:i] + wr(int(a[1])) + ch[j:]
    elif op == "droptail":
        st = int(a[0])
        ks = [k for k, r in enumerate(recs) if r[0] == 5 and r[1] == st]
        b = recs[ks[-1]]
        gone = [k for k, r in enumerate(recs)
                if (r[0] == 4 and r[2] == st and b[2] <= r[3] <= b[3]) or
                (r[0] in (5, 6) and r[1] == st and r[2 if r[0] == 6 else 3] == b[3])]
        k = gone[0]
        recs = [r for i, r in enumerate(recs) if i not in gone]
        pos = recs[0][7]
        last = None
        for r in recs:
            if r[0] == 4:
                r[1] = pos
                pos += 1
                last = r
        recs[0][8] = pos - 1
        end = recs[-1]
        end[1] = pos - 1
        end[2] = sum(1 for r in recs if r[0] == 4)
        end[3] = hashlib.sha256(last[4]).digest()
        body = b"".join(wr(r) for r in recs[:-1])
        end[5] = hashlib.sha256(body).digest()
        h = recs[0]
        msg = (b"jipan-state-1\0" + struct.pack(">HQQQ", h[6], end[1], h[9], end[2]) +
               end[3] + (end[4] or bytes(32)) + end[5])
        end[7] = sign(a[1], msg)
        save(dst, recs)
        print("store %d seq %d" % (st, b[2]))
        return
    elif op in ("addkey", "replacekey", "serverkey"):
        st = int(a[0])
        evil, srv = (a[1], a[1]) if op == "serverkey" else (a[1], a[2])
        ks = [k for k, r in enumerate(recs) if r[0] == 2 and r[1] == st]
        new = [2, st, pub_of(evil)]
        if op == "replacekey":
            for k in reversed(ks):
                del recs[k]
            recs.insert(ks[0], new)
        else:
            recs.insert(ks[-1] + 1, new)
        n = resign_batches(recs, st, evil)
        resign_end(recs, srv)
        save(dst, recs)
        print("store %d key %s batches %d" % (st, new[2].hex()[:16], n))
        return
    else:
        sys.exit("unknown op " + op)
    save(dst, recs)
    r = recs[k]
    if r[0] == 4:
        print("pos %d store %d seq %d" % (r[1], r[2], r[3]))
    else:
        print("store %d seq %d" % (r[1], r[3]))


main()
