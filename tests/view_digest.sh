#!/usr/bin/env bash
# view_digest.sh -- `jipan-server view-digest --store N` with real
# processes on 127.0.0.1: a server and three stores of jipan-gen's data,
# synced to the end.  Under rule linked (the default) each store's digest
# equals the server's digest of that store's view, a strict part of the
# base; moved to rule group, every store pulls the rest and its digest is
# the whole base's; back to linked, each store removes what the rule no
# longer gives it and is its view again; a per-store override applies to
# that store only; a bad [sharing] setting is refused with its line, an
# unknown store by its number.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

# sharing LINES...: the server's configuration with a [sharing] section.
sharing() {
    jp_conf
    { printf '[sharing]\n'; printf '%s\n' "$@"; } >>"$T/server.conf"
}
view() { SV view-digest --store "$1" | awk '/^digest/ {print $2}'; }
customers() { SV view-digest --store "$1" | awk '/^records/ {print $2}'; }

check setup
jp_group viewdig 25000
"$B/tools/jipan-gen" --out "$T/gen" --stores 3 --customers 150 --seed 11 >/dev/null
jp_gen_stores "$T/gen"
jp_server_start
jp_first_sync st1 st2 st3
# A second round: every store pulls what the others pushed after it.
for i in 1 2 3; do S "st$i" sync -q; done
jp_server_stop
NUM=()
while IFS=, read -r store _; do [ "$store" = store ] || NUM+=("$store"); done <"$T/gen/stores.csv"

# all_sync: every store syncs twice (the second round brings what the
# others pushed after it), the server running.
all_sync() {
    jp_server_start
    for _ in 1 2; do for i in 1 2 3; do S "st$i" sync -q; done; done
    jp_server_stop
}

check "rule linked (the default): each store's digest is the server's digest of its view"
total=$(SV status | awk '/^records/ {print $2}')
d=$(server_digest)
[[ "$d" =~ ^[0-9a-f]{64}$ ]] || fail "no server digest"
for i in 1 2 3; do
    n=${NUM[$((i - 1))]}
    c=$(customers "$n")
    [ "$c" -gt 0 ] && [ "$c" -lt "$total" ] || fail "store $n sees $c of $total customers"
    v=$(view "$n")
    [ "$v" = "$(S "st$i" digest)" ] || fail "store $n: its digest is not its view's $v"
    [ "$v" != "$d" ] || fail "store $n: the linked view's digest is the whole base's"
done

check "rule group: every store pulls the rest; its digest is the whole base's"
sharing "rule = group"
all_sync
for i in 1 2 3; do
    n=${NUM[$((i - 1))]}
    [ "$(view "$n")" = "$d" ] || fail "store $n: the group view is not the whole base"
    [ "$(S "st$i" digest)" = "$d" ] || fail "store $n: its digest is not the base's $d"
    SV view-digest --store "$n" | grep -q '^rule        group$' || fail "store $n: not rule group"
done

check "back to linked: each store removes what it may no longer hold"
sharing
all_sync
for i in 1 2 3; do
    n=${NUM[$((i - 1))]}
    [ "$(S "st$i" digest)" = "$(view "$n")" ] || fail "store $n: not its linked view again"
    S "st$i" status | grep -q '^removed ' || fail "store $n: status does not say it removed"
done

check "a per-store override applies to that store only"
sharing "rule = linked" "store.${NUM[1]} = group"
[ "$(view "${NUM[1]}")" = "$d" ] || fail "store ${NUM[1]} (group) does not see the whole base"
[ "$(view "${NUM[0]}")" != "$d" ] || fail "store ${NUM[0]} (linked) sees the whole base"

check "rule region: at least the linked view, at most the base"
sharing "rule = region"
for n in "${NUM[@]}"; do
    c=$(customers "$n")
    sharing
    l=$(customers "$n")
    sharing "rule = region"
    [ "$c" -ge "$l" ] && [ "$c" -le "$total" ] || fail "store $n: region $c, linked $l, base $total"
done

check "a bad [sharing] setting is refused with its line, and nothing is read"
sharing "rule = everyone"
rc=0
SV view-digest --store "${NUM[0]}" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a bad rule was accepted"
grep -q 'server.conf:7: \[sharing\] rule: the rule is one of linked, region, group' "$T/err" ||
    { cat "$T/err" >&2; fail "the refusal does not name the line and the words"; }
[ ! -s "$T/out" ] || fail "a refused configuration printed a digest"
sharing "store.0 = group"
rc=0
SV view-digest --store "${NUM[0]}" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -q 'store.N needs a store number 1..65535' "$T/err" ||
    fail "store.0 was accepted"

check "an unknown store and a bad usage are refused"
sharing
rc=0
SV view-digest --store 999 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'store 999 is not enrolled' "$T/err" || fail "store 999: exit $rc"
rc=0
SV view-digest >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "no --store: exit $rc, wanted 2 (usage)"
rc=0
SV view-digest --store 0 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--store 0: exit $rc, wanted 2 (usage)"

echo "view_digest: ok"
