#!/usr/bin/env bash
# share_sync.sh -- a store holds only what its sharing rule gives it, with
# real processes on 127.0.0.1: a server and four stores of jipan-gen's
# data (regions 惠州, 深圳, 广州, 惠州; a third of the owners also service
# at the next store), for each rule (linked, region, group) from a fresh
# group:
#   - the raw bytes of each store's data.mdb and of its backup hold every
#     phone and ID number the rule gives the store and none it does not
#     (the oracle is jipan-view-numbers over the server's base);
#   - each store's digest is the server's digest of its view;
#   - its offline report equals the server's report of store:N.
# A man in the middle holding the server's Curve key (jipan-tamper-proxy)
# alters a CHANGES four ways (its signature, an entry's bytes, a made-up
# customer inserted, an entry dropped): the store refuses each with
# nothing applied, its digest and cursor unchanged.
# Then, under linked: a walk-in registered at a second store brings his
# earlier history at the first to the second store's card; an unlink
# removes it again, from both stores, and more syncs do not bring it back;
# the rule widened to region and narrowed back, with stores and the server
# killed (-9) in the middle of their syncs, every store ends as its view.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"

VN="$B/tests/jipan-view-numbers"
view() { SV view-digest --store "$1" | awk '/^digest/ {print $2}'; }

# sync_all ROUNDS: every store syncs, ROUNDS times.
sync_all() {
    for _ in $(seq "$1"); do for i in 1 2 3 4; do S "st$i" sync -q; done; done
}

# raw_check STORE N RULE: the store's file and its backup against the oracle.
raw_check() {
    local st=$1 n=$2 rule=$3 regions=()
    while IFS=, read -r s _ _ region; do
        [ "$s" = store ] || regions+=("$s:$region")
    done <"$T/gen/stores.csv"
    "$VN" "$T/srv" "$n" "$rule" "${regions[@]}" >"$T/numbers"
    rm -rf "$T/bk-$st"
    S "$st" backup "$T/bk-$st" >/dev/null
    python3 - "$T/numbers" "$T/$st/data.mdb" "$T/bk-$st/data.mdb" <<'PY' ||
import sys
given, withheld = set(), set()
for line in open(sys.argv[1], encoding="utf-8"):
    flag, num = line.split()
    (given if flag == "1" else withheld).add(num.encode())
withheld -= given  # a number two rows share, one of them given
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    leaked = [n for n in withheld if n in data]
    missing = [n for n in given if n not in data]
    if leaked or missing:
        print(f"{path}: {len(leaked)} of {len(withheld)} withheld numbers found, "
              f"{len(missing)} of {len(given)} given numbers missing", file=sys.stderr)
        sys.exit(1)
print(f"{len(given)} given, {len(withheld)} withheld", file=sys.stderr)
PY
        fail "$st ($rule): its raw files do not hold exactly what the rule gives it"
}

k=0
for rule in linked region group; do
    check "rule $rule: setup"
    k=$((k + 1))
    jp_group "share$rule" $((25000 + k * 1000))
    "$B/tools/jipan-gen" --out "$T/gen" --stores 4 --customers 120 --shared 0.3 \
        --seed 7 >/dev/null
    jp_gen_stores "$T/gen"
    printf '[sharing]\nrule = %s\n' "$rule" >>"$T/server.conf"
    jp_server_start
    jp_first_sync st1 st2 st3 st4
    sync_all 2
    jp_server_stop
    NUM=()
    while IFS=, read -r s _; do [ "$s" = store ] || NUM+=("$s"); done <"$T/gen/stores.csv"

    check "rule $rule: each store's raw files hold what the rule gives it, nothing else"
    for i in 1 2 3 4; do raw_check "st$i" "${NUM[$((i - 1))]}" "$rule"; done

    check "rule $rule: each store's digest is the server's digest of its view"
    for i in 1 2 3 4; do
        n=${NUM[$((i - 1))]}
        [ "$(S "st$i" digest)" = "$(view "$n")" ] || fail "store $n: digest is not its view's"
    done

    check "rule $rule: a store's offline figures equal the server's for it"
    jp_server_start
    for i in 1 2 3 4; do
        n=${NUM[$((i - 1))]}
        S "st$i" report --as-of 2026-06-30 --format csv >"$T/offline.csv"
        S "st$i" report --scope "store:$n" --as-of 2026-06-30 --format csv >"$T/served.csv"
        diff "$T/offline.csv" "$T/served.csv" >&2 || fail "store $n: figures differ"
    done
    [ "$rule" = linked ] || { jp_server_stop; rm -rf "$T"; continue; }

    check "linked: a walk-in at a second store brings his earlier history to its card"
    c1=$(S st1 add customer --name 李雷 --phone 13912345678 --created-at 2026-01-05)
    S st1 add contact --customer "$c1" --channel phone --at 2026-01-06T10:00 \
        --note 首保提醒 >/dev/null
    S st1 sync -q
    S st2 show 13912345678 >/dev/null 2>&1 && fail "store 2 holds store 1's customer before any link"
    S st2 add customer --name 李雷 --phone 13912345678 --created-at 2026-03-01 >/dev/null
    S st2 sync -q
    S st2 show 13912345678 >"$T/card"
    grep -q 首保提醒 "$T/card" || { cat "$T/card" >&2; fail "store 2's card lacks the contact at store 1"; }
    S st2 status | grep -q '^holds ' || fail "store 2's status does not say what it holds"
    [ "$(S st2 digest)" = "$(view "${NUM[1]}")" ] || fail "store 2 is not its view after the link"

    check "linked: a record that becomes visible with its later change in the stream comes whole"
    # The change of store 1's row comes after store 2's cursor and before
    # the link its walk-in makes: store 2 first sees that row by the change.
    c2=$(S st1 add customer --name 韩梅梅 --phone 13912340000 --created-at 2026-01-07)
    S st1 sync -q
    S st2 sync -q
    S st1 update "$c2" --district 惠阳区 >/dev/null
    S st1 sync -q
    S st2 add customer --name 韩梅梅 --phone 13912340000 --created-at 2026-03-02 >/dev/null
    S st2 sync -q
    [ "$(S st2 digest)" = "$(view "${NUM[1]}")" ] ||
        fail "store 2 holds store 1's row without its creation"
    S st2 show "$c2" | grep -q 韩梅梅 || fail "store 2's copy of store 1's row lacks its name"

    check "linked: a CHANGES altered on the way is refused with nothing applied"
    pp=$((PORT + 500))
    cursor() { S st2 status | awk '/^pulled/ {print $NF}'; }
    day=1
    for mode in sig entry insert drop; do
        day=$((day + 1))
        S st1 add contact --customer "$c1" --channel sms --at "2026-02-0${day}T10:00" \
            --note "回访$mode" >/dev/null
        S st1 sync -q
        d0=$(S st2 digest)
        c0=$(cursor)
        "$B/tests/jipan-tamper-proxy" "$mode" "tcp://127.0.0.1:$pp" "tcp://127.0.0.1:$PORT" \
            "$T/srv/curve.key" "$T/st2/curve.key" >"$T/proxy.out" 2>&1 &
        ppid=$!
        for _ in $(seq 50); do grep -q listening "$T/proxy.out" && break; sleep 0.1; done
        rc=0
        S st2 sync -q --server "tcp://127.0.0.1:$pp" >"$T/out" 2>"$T/err" || rc=$?
        kill "$ppid" 2>/dev/null || true
        wait "$ppid" 2>/dev/null || true
        grep -q tampered "$T/proxy.out" || fail "$mode: the proxy altered nothing"
        [ "$rc" -eq 1 ] && grep -q 'nothing applied: CHANGES: the server.s signature does not verify' "$T/err" ||
            { cat "$T/err" >&2; fail "$mode: the altered CHANGES was not refused (exit $rc)"; }
        [ "$(S st2 digest)" = "$d0" ] && [ "$(cursor)" = "$c0" ] ||
            fail "$mode: the store's digest or cursor moved"
        S st2 sync -q --server "tcp://127.0.0.1:$PORT"
        S st2 show 13912345678 | grep -q "回访$mode" || fail "$mode: the real CHANGES did not apply"
    done

    check "linked: an unlink removes the other store's rows, and they stay removed"
    link=$(sed -n 's/.*(link \([^)]*\)).*/\1/p' "$T/card" | head -1)
    [ -n "$link" ] || { cat "$T/card" >&2; fail "no link on store 2's card"; }
    S st2 unlink "$link" >/dev/null
    S st2 sync -q >"$T/err"
    grep -q "removed [0-9]* records of other stores" "$T/err" ||
        { cat "$T/err" >&2; fail "store 2 did not say it removed store 1's rows"; }
    S st2 show 13912345678 >"$T/card2"
    ! grep -q 首保提醒 "$T/card2" || fail "store 2 still shows store 1's contact"
    S st1 sync -q
    sync_all 2
    S st2 show 13912345678 >"$T/card3"
    ! grep -q 首保提醒 "$T/card3" || fail "more syncs brought store 1's contact back"
    for i in 1 2; do
        [ "$(S "st$i" digest)" = "$(view "${NUM[$((i - 1))]}")" ] ||
            fail "store $i is not its view after the unlink"
    done

    check "linked: killed in the middle of a widening and a narrowing, the stores converge"
    for next in region linked; do
        jp_server_stop
        jp_conf
        printf '[sharing]\nrule = %s\n' "$next" >>"$T/server.conf"
        jp_server_start
        for i in 1 2 3; do
            S "st$i" sync -q >/dev/null 2>&1 &
            pid=$!
            sleep "0.$((RANDOM % 4 + 1))"
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        S st4 sync -q >/dev/null 2>&1 &
        pid=$!
        sleep 0.2
        kill -9 "$SPID"
        wait "$SPID" 2>/dev/null || true
        SPID=
        wait "$pid" 2>/dev/null || true
        jp_server_start
        sync_all 2
        for i in 1 2 3 4; do
            n=${NUM[$((i - 1))]}
            [ "$(S "st$i" digest)" = "$(view "$n")" ] ||
                fail "rule $next: store $n is not its view after the kills"
            S "st$i" verify >/dev/null || fail "rule $next: store $n does not verify"
        done
    done
    jp_server_stop
    rm -rf "$T"
done
echo "share_sync: ok"
