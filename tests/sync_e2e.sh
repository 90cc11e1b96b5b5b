#!/usr/bin/env bash
# sync_e2e.sh -- issue 3, the group's sync end to end with the real
# programs: one jipan-server and three jipan-store directories on 127.0.0.1.
#
# One group is built: three stores enrolled, a shared customer made at store
# 1 and synced to every store.  Then every store works offline: stores 1
# and 2 both rename the shared customer (store 2 clearly later: the later
# write must win everywhere) and each sets a field the other does not
# touch; stores 1 and 3 both register the same new customer (same phone);
# every store adds customers and events of its own.  That state (server
# and stores, stopped) is copied into a second group, and the two groups
# are synced in two different orders (1,2,3,1,2,3 and 3,2,1,3,2,1: in the
# second the later rename reaches the server first).  In each group the
# server and every store must end with one digest, the group log must hold
# every store's changes and the server's links exactly once, a further sync
# must push and pull nothing, `verify` must pass everywhere, the two stores'
# rows of the new customer must be linked, and the shared customer's card
# must be the same in both groups.  Last: a store's card of a linked
# customer must show the visits recorded at the other store.
#
# Environment (set by ctest): JP_BIN = build dir, JP_SRC = source dir.
set -euo pipefail

NAME=sync-e2e
. "$JP_SRC/tests/lib/sync.bash"

# Start the server of group G in the background and wait (at most 20 s)
# for "listening on"; its pid in $G/srv.pid.
start_server() {
    : >"$G/srv.out"
    "$SRV" -c "$G/srv.ini" run >"$G/srv.out" 2>>"$G/srv.err" &
    local pid=$! i
    PIDS+=("$pid")
    echo "$pid" >"$G/srv.pid"
    for ((i = 0; i < 200; i++)); do
        grep -q "^listening on " "$G/srv.out" && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$G/srv.err" >&2; fail "the server exited at start"; }
        sleep 0.1
    done
    cat "$G/srv.err" >&2
    fail "the server did not say 'listening on' within 20 s"
}
# Stop the server of group G with SIGTERM; it must exit 0 within 20 s.
stop_server() {
    local pid i rc=0
    pid=$(cat "$G/srv.pid")
    kill -TERM "$pid"
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "the server did not stop within 20 s of SIGTERM"
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$G/srv.err" >&2; fail "the server exited $rc on SIGTERM"; }
}

# sync N [ARGS...]: one `jipan-store sync` of store N; its summary line is
# kept in $T/synced.
sync_store() {
    local n=$1
    shift
    st "$n" 0 sync "$@"
    grep -E '^synced: pushed [0-9]+ \(server holds seq [0-9]+\), pulled [0-9]+ \(cursor [0-9]+\)$' \
        "$T/out" >"$T/synced" || { cat "$T/out" >&2; fail "store $n: no summary line"; }
}

PHONE_A=13800138000   # the shared customer
PHONE_N=13900139000   # the new customer registered at stores 1 and 3
VIN_N=1M8GDM9AXKP042788
CODES=("" HZ01 SZ01 GZ01)
REGIONS=("" 惠州 深圳 广州)

# ---- the group, and its first sync ---------------------------------------------------

G="$T/A"
mkdir -p "$G"
PORT_A=$(free_port $((17000 + $$ % 1000)))
cat >"$G/srv.ini" <<EOF
[server]
endpoint = tcp://127.0.0.1:$PORT_A
data = $G/srv
group = 测试集团
timezone = Asia/Shanghai
credit = 4
# Every store holds the whole group log: this test follows each change to
# every store (share_sync.sh and view_digest.sh test the sharing rules).
[sharing]
rule = group
EOF

check "server init and keys"
sv init
sv keys
SKEY=$(awk '$1 == "curve" { print $2 }' "$T/out")
[[ "$SKEY" =~ ^[0-9a-f]{64}$ ]] || fail "jipan-server keys printed no curve key"

check "three stores: init, keys, enroll"
for n in 1 2 3; do
    st "$n" 0 init --store "$n" --code "${CODES[n]}" --name "${REGIONS[n]}一店" \
        --region "${REGIONS[n]}" --group 测试集团
    st "$n" 0 keys
    curve=$(awk '$1 == "curve" { print $2 }' "$T/out")
    sign=$(awk '$1 == "sign" { print $2 }' "$T/out")
    [[ "$curve" =~ ^[0-9a-f]{64}$ && "$sign" =~ ^[0-9a-f]{64}$ ]] ||
        { cat "$T/out" >&2; fail "store $n: keys did not print curve and sign"; }
    sv enroll --store "$n" --code "${CODES[n]}" --name "${REGIONS[n]}一店" \
        --region "${REGIONS[n]}" --curve "$curve" --sign "$sign"
    has "$T/out" "as store:$n"
done

check "start the server"
start_server

check "store 1 creates the shared customer; it reaches every store"
st 1 0 add customer --name 张三 --phone "$PHONE_A" --gender M --created-at 2026-01-10
CA=$(cat "$T/out")
[ ${#CA} -eq 26 ] || fail "customer id '$CA' is not 26 characters"
for n in 1 2 3; do
    sync_store "$n" --server "tcp://127.0.0.1:$PORT_A" --server-key "$SKEY"
done
for n in 1 2 3; do
    st "$n" 0 show "$CA"
    has "$T/out" "张三"
done

# ---- offline work -----------------------------------------------------------------------

check "offline: store 1 renames the shared customer and sets its district"
st 1 0 update "$CA" --name 张一 --district 惠城区
st 1 0 add contact --customer "$CA" --channel phone --purpose day3 --at 2026-02-01T09:00
check "offline: store 1 registers the new customer"
st 1 0 add customer --name 王五 --phone "$PHONE_N" --created-at 2026-02-02
N1=$(cat "$T/out")
st 1 0 add contact --customer "$N1" --channel wechat --at 2026-02-02T11:00

sleep 1.1 # the next rename is clearly later

check "offline: store 2 renames the shared customer (later) and sets its grade"
st 2 0 update "$CA" --name 张二 --grade H
st 2 0 add contact --customer "$CA" --channel visit --at 2026-02-03T10:00
st 2 0 add customer --name 李四 --phone 13700137000 --created-at 2026-02-03
C2=$(cat "$T/out")
st 2 0 add contact --customer "$C2" --channel sms --at 2026-02-04T10:00
st 2 0 delete "$(cat "$T/out")"

check "offline: store 3 registers the same new customer, with a sale and a visit"
st 3 0 add customer --name 王五 --phone "+86 139-0013-9000" --created-at 2026-02-05
N3=$(cat "$T/out")
[ "$N3" != "$N1" ] || fail "two stores made the same record id"
st 3 0 add vehicle --customer "$N3" --vin "$VIN_N" --model 凯美瑞 --plate 粤A12345 \
    --delivered-at 2026-02-06 --price 189000 --sale-kind new
st 3 0 add service --vin "$VIN_N" --customer "$N3" --service-type first_maintenance \
    --mileage 2800 --amount 0 --at 2026-03-01T10:00
st 3 0 add customer --name 赵六 --phone 13600136000 --created-at 2026-02-06

check "offline work did not leave the stores"
for n in 2 3; do
    st "$n" 1 show "$N1"
done

# ---- the second group: the same state, another order -------------------------------

check "stop the server and copy the group"
stop_server
B="$T/B"
cp -a "$G" "$B"
PORT_B=$(free_port $((PORT_A + 1000)))
sed -i -e "s|^endpoint = .*|endpoint = tcp://127.0.0.1:$PORT_B|" -e "s|^data = .*|data = $B/srv|" \
    "$B/srv.ini"
start_server # group A again
G="$B"
start_server

# run_group DIR PORT ORDER...: sync the stores of group DIR in ORDER, then
# check that every node of the group holds one state.
run_group() {
    G=$1
    local port=$2 n
    shift 2
    check "group $(basename "$G"): sync in the order $*"
    for n in "$@"; do
        # --server: the copy's stores must talk to the copy's server.
        sync_store "$n" --server "tcp://127.0.0.1:$port"
        echo "   store $n: $(cat "$T/synced")"
    done

    check "group $(basename "$G"): the server and every store hold one digest"
    sv status --digest
    cp "$T/out" "$G/status"
    local d glog links sum=0 s
    d=$(srv_digest)
    [[ "$d" =~ ^[0-9a-f]{64}$ ]] || { cat "$T/out" >&2; fail "no server digest"; }
    for n in 1 2 3; do
        st "$n" 0 digest
        [ "$(cat "$T/out")" = "$d" ] ||
            fail "store $n digest $(cat "$T/out") differs from the server's $d"
    done

    check "group $(basename "$G"): the new customer's two rows are linked, once"
    cp "$G/status" "$T/out"
    links=$(srv_links)
    [ "$links" -eq 1 ] || { cat "$T/out" >&2; fail "server status shows $links links, wanted 1"; }

    check "group $(basename "$G"): the group log holds every change exactly once"
    cp "$G/status" "$T/out"
    glog=$(srv_glog)
    for n in 1 2 3; do
        s=$(srv_seq "$n")
        cp "$G/status" "$T/out"
        st "$n" 0 status
        [ "$(st_seq)" = "$s" ] || fail "store $n is at seq $(st_seq), the server accepted $s"
        [ "$(st_changes)" = "$glog" ] ||
            fail "store $n holds $(st_changes) changes, the group log $glog"
        sum=$((sum + s))
        cp "$G/status" "$T/out"
    done
    st 1 0 verify
    s=$(awk '/^chain ok: store 0,/ { print $5 }' "$T/out")
    [ "$s" = "$links" ] || { cat "$T/out" >&2; fail "the server's own log has '$s' changes, $links links"; }
    [ "$glog" -eq $((sum + links)) ] ||
        fail "group log $glog != stores' changes $sum + the server's links $links"

    check "group $(basename "$G"): verify passes at every store"
    for n in 1 2 3; do
        st "$n" 0 verify
        for k in 0 1 2 3; do
            has "$T/out" "chain ok: store $k,"
        done
    done

    check "group $(basename "$G"): in sync, a sync (endpoint remembered) pushes 0 and pulls 0"
    for n in 1 2 3; do
        sync_store "$n"
        grep -qE '^synced: pushed 0 .*, pulled 0 ' "$T/synced" ||
            fail "store $n in sync: $(cat "$T/synced")"
    done
    sv status --digest
    [ "$(srv_digest)" = "$d" ] || fail "an empty sync changed the server's digest"

    check "group $(basename "$G"): the later rename wins everywhere; other fields merge"
    for n in 1 2 3; do
        st "$n" 0 show "$CA"
        grep -qE '^name +张二$' "$T/out" || { cat "$T/out" >&2; fail "store $n: the name is not the later write 张二"; }
        grep -qE '^district +惠城区$' "$T/out" || { cat "$T/out" >&2; fail "store $n: store 1's district is lost"; }
        grep -qE '^grade +H$' "$T/out" || { cat "$T/out" >&2; fail "store $n: store 2's grade is lost"; }
        [ "$(grep -cE ' contact ' "$T/out")" -eq 2 ] ||
            { cat "$T/out" >&2; fail "store $n: the shared customer's card lacks a store's contact"; }
        cp "$T/out" "$G/show_ca_$n"
    done
    st 2 0 show "$N3"
    has "$T/out" "$VIN_N"
    has "$T/out" "first_maintenance"
}

run_group "$T/A" "$PORT_A" 1 2 3 1 2 3
run_group "$T/B" "$PORT_B" 3 2 1 3 2 1

check "both orders give the same card of the shared customer"
for n in 1 2 3; do
    cmp -s "$T/A/show_ca_$n" "$T/B/show_ca_$n" ||
        { diff "$T/A/show_ca_$n" "$T/B/show_ca_$n" >&2; fail "store $n: the cards differ"; }
done

# Last, so that the checks above stand on their own: `show` follows the
# server's links (since cd6ab28).
check "a linked customer's card shows the visits of the other store"
for G in "$T/A" "$T/B"; do
    st 1 0 show "$N1"
    grep -qE "^same person +$N3 " "$T/out" ||
        { cat "$T/out" >&2; fail "group $(basename "$G"): store 1's card of the new customer does not name store 3's row as the same person"; }
    if ! grep -qE ' service +.*first_maintenance' "$T/out" || ! grep -qF "$VIN_N" "$T/out"; then
        cat "$T/out" >&2
        fail "group $(basename "$G"): store 1's card of the new customer does not show the sale and service visit recorded at store 3 on the linked row"
    fi
    st 3 0 show "$N3"
    grep -qE ' contact +.*wechat' "$T/out" ||
        { cat "$T/out" >&2; fail "group $(basename "$G"): store 3's card does not show store 1's contact on the linked row"; }
done

echo "sync_e2e: all checks passed"
