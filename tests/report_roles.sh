#!/usr/bin/env bash
# report_roles.sh -- the server's figures over the protocol, with real
# processes on 127.0.0.1: who may read what (a store its own store, a
# region its region's stores, group and auditor everything, an unknown key
# nothing), and that the figures a synced store computes offline for itself
# equal the server's for that store.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

Q() { "$B/client/jipan-query" --server "tcp://127.0.0.1:$PORT" --server-key "$KEY" "$@"; }
# refused WANT_TEXT CMD...: CMD must exit 1 and say WANT_TEXT on stderr.
refused() {
    local want=$1 rc=0
    shift
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq 1 ] || fail "'$*' exited $rc, wanted 1 (refused)"
    grep -qF -- "$want" "$T/err" || { cat "$T/err" >&2; fail "'$want' missing from the refusal"; }
    [ ! -s "$T/out" ] || fail "a refused query printed figures"
}

check setup
jp_group roles 19000
"$B/tools/jipan-gen" --out "$T/gen" --stores 3 --customers 120 --seed 5 >/dev/null
jp_gen_stores "$T/gen"
R1=$(awk -F, 'NR==2 {print $4}' "$T/gen/stores.csv")
R2=$(awk -F, 'NR==3 {print $4}' "$T/gen/stores.csv")
SV enroll --role "region:$R1" --curve "$("$B/client/jipan-query" keygen "$T/region.key")" >/dev/null
SV enroll --role group --curve "$("$B/client/jipan-query" keygen "$T/group.key")" >/dev/null
SV enroll --role auditor --curve "$("$B/client/jipan-query" keygen "$T/auditor.key")" >/dev/null
"$B/client/jipan-query" keygen "$T/stranger.key" >/dev/null
jp_server_start
jp_first_sync st1 st2 st3
for i in 1 2 3; do S "st$i" sync -q; done

check "a store names the other stores by their codes (learnt at sync)"
C2=$(awk -F, 'NR==3 {print $2}' "$T/gen/stores.csv")
id2=$(S st2 log --limit 1 | awk '$5 == "customer" {print $6}')
[ -n "$id2" ] || fail "no customer in store 2's log"
S st1 show "$id2" >"$T/out"
grep -qE "^created .* at $C2\$" "$T/out" || { cat "$T/out" >&2; fail "store 1 does not name store 2 as $C2"; }

check "group and auditor read everything"
for k in group auditor; do
    Q --key "$T/$k.key" report --scope group --format json >"$T/$k.json"
    grep -q '"scope": "group"' "$T/$k.json" || fail "$k: no group report"
    Q --key "$T/$k.key" report --scope "region:$R2" --format csv >/dev/null || fail "$k: region $R2 refused"
    Q --key "$T/$k.key" report --scope store:2 --format csv >/dev/null || fail "$k: store 2 refused"
done
for k in group auditor; do
    Q --key "$T/$k.key" report --scope group --as-of 2026-06-30 --format json >"$T/$k-d.json"
done
cmp -s "$T/group-d.json" "$T/auditor-d.json" || fail "group and auditor keys read different group figures"

check "a region key reads its region only"
Q --key "$T/region.key" report --format json >"$T/region.json" # default: its own region
grep -qF "\"scope\": \"region $R1\"" "$T/region.json" || fail "region default scope is not region $R1"
Q --key "$T/region.key" report --scope store:1 --format csv >/dev/null || fail "region: its own store refused"
refused "only group and auditor keys" Q --key "$T/region.key" report --scope group
refused "may not read that region" Q --key "$T/region.key" report --scope "region:$R2"
refused "may not read that store" Q --key "$T/region.key" report --scope store:2

check "a store key reads its own store only"
S st1 report --scope store:1 --format json >"$T/s1.json" || fail "store 1: its own figures refused"
refused "may not read that store" S st1 report --scope store:2
refused "only group and auditor keys" S st1 report --scope group
refused "may not read that region" S st1 report --scope "region:$R2"

check "an unknown key reads nothing"
rc=0
Q --key "$T/stranger.key" --timeout 2 report --scope group >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "an unenrolled key: exit $rc, wanted 1 (refused)"
grep -q "refused this key at the handshake" "$T/err" || fail "no clear refusal of the key"
[ ! -s "$T/out" ] || fail "an unenrolled key got figures"
grep -q "refused a connection from key" "$T/server.err" || fail "the server did not log the refusal"

check "bad arguments are refused with the reason"
refused "scope must be" Q --key "$T/group.key" report --scope galaxy
refused "as_of" Q --key "$T/group.key" report --as-of 2026-13-45
refused "filter" Q --key "$T/group.key" report --filter 'speed >3'

check "a report as of now follows merges (the live base is refreshed)"
customers() { Q --key "$T/group.key" report --scope group --format csv | awk -F, '$1 == "base" && $2 == "customers" {print $5}'; }
c0=$(customers)
S st1 add customer --name 新来的 --phone 13700001111 >/dev/null
S st1 sync -q
for _ in $(seq 40); do [ "$(customers)" -gt "$c0" ] && break; sleep 0.25; done
[ "$(customers)" -eq $((c0 + 1)) ] || fail "the live report did not follow the merge ($c0 -> $(customers))"
grep -q "report group in [0-9]* ms (base held)" "$T/server.err" || fail "live reports never used the held base"

check "a report computed ahead equals one computed for that instant"
for _ in $(seq 40); do
    Q --key "$T/group.key" report --scope group --format json >"$T/live.json"
    grep -q "report group in [0-9]* ms (computed ahead)" "$T/server.err" && break
    sleep 0.25
done
grep -q "report group in [0-9]* ms (computed ahead)" "$T/server.err" || fail "no report was computed ahead"
Q --key "$T/group.key" report --scope group --format json >"$T/live.json"
at=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["as_of"])' "$T/live.json")
Q --key "$T/group.key" report --scope group --format json --as-of "$at" >"$T/then.json"
cmp -s "$T/live.json" "$T/then.json" || { diff "$T/live.json" "$T/then.json" >&2; fail "the report computed ahead differs from the one computed as of $at"; }

check "a synced store's own figures offline equal the server's"
D=2026-06-30
S st1 report --as-of $D --format csv >"$T/offline.csv"
S st1 report --scope store:1 --as-of $D --format csv >"$T/served.csv"
diff "$T/offline.csv" "$T/served.csv" >&2 || fail "store 1's figures differ offline and served"
Q --key "$T/group.key" report --scope store:1 --as-of $D --format csv >"$T/group-view.csv"
diff "$T/offline.csv" "$T/group-view.csv" >&2 || fail "the group's view of store 1 differs"

check "the report works offline: server stopped"
jp_server_stop
S st1 report --as-of $D --format csv >"$T/offline2.csv"
diff "$T/offline.csv" "$T/offline2.csv" >&2 || fail "offline report changed"
S st1 today --as-of $D >/dev/null || fail "today failed offline"
echo "report_roles: ok"
