#!/usr/bin/env bash
# The main job, for a newcomer: install, build, and run a dealer group on
# this machine -- a group server and four stores on 127.0.0.1, generated
# data, stores working offline and then syncing, each store holding only
# what its sharing rule gives it, one customer across stores, and at the end the group's loyalty report and the audit of the
# group log.  Everything it starts is stopped when it ends (or fails).
# Files live under $JIPAN_DEMO_DIR (default /tmp/jipan-demo), removed at
# the start of the next run.  `bash deploy/demo.sh --web` then keeps the
# HZ01 store's counter screens (jipan-store web) and the group's dashboard
# (jipan-web) open until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
keep_web=false
case ${1:-} in
--web) keep_web=true ;;
"") ;;
*) echo "usage: bash deploy/demo.sh [--web]" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing what is needed and building (Release)"
bash deploy/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DJIPAN_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
bin=$PWD/build-release

demo=${JIPAN_DEMO_DIR:-/tmp/jipan-demo}
port=${JIPAN_DEMO_PORT:-17700}
group=粤港汽车集团
rm -rf "$demo"
mkdir -p "$demo/stores"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

store() { local code=$1; shift; "$bin/client/jipan-store" -d "$demo/stores/$code" "$@"; }
server() { "$bin/server/jipan-server" -c "$demo/server.conf" "$@"; }
query() { "$bin/client/jipan-query" --key "$demo/$1.key" --server "tcp://127.0.0.1:$port" \
    --server-key "$server_key" "${@:2}"; }

say "The group server: configuration, keys, the group's LMDB"
cat >"$demo/server.conf" <<EOF
[server]
endpoint = tcp://127.0.0.1:$port
data = $demo/server
group = $group
timezone = Asia/Shanghai
EOF
cat "$demo/server.conf"
server init
server_key=$(server keys | awk '/^curve/ {print $2}')

say "Generating the group's data: 4 stores in 惠州, 深圳, 广州 (jipan-gen, seed 7)"
"$bin/tools/jipan-gen" --out "$demo/data" --stores 4 --customers 1500 --seed 7
cat "$demo/data/stores.csv"

say "Each store: init (its keys, its LMDB), import its old system's files, enrolment"
while IFS=, read -r num code name region; do
    [[ $num == store ]] && continue
    store "$code" init --store "$num" --code "$code" --name "$name" --region "$region" \
        --group "$group" >/dev/null 2>&1
    printf '%s: ' "$code"
    store "$code" -u 数据迁移 import --customers "$demo/data/$code/customers.csv" \
        --vehicles "$demo/data/$code/vehicles.csv" --events "$demo/data/$code/events.csv"
    # What `jipan-store keys` prints is the operator's enrolment command.
    enrol=$(store "$code" keys | grep -o 'enroll .*')
    # shellcheck disable=SC2086
    server $enrol --name "$name" >/dev/null
done <"$demo/data/stores.csv"
query_key() { "$bin/client/jipan-query" keygen "$demo/$1.key"; }
server enroll --role group --curve "$(query_key group)" >/dev/null
server enroll --role region:惠州 --curve "$(query_key region-hz)" >/dev/null
server enroll --role auditor --curve "$(query_key auditor)" >/dev/null
server stores

say "The server starts; HZ01, SZ01 and HZ02 sync and keep syncing (jipan-store run)"
"$bin/server/jipan-server" -c "$demo/server.conf" run >"$demo/server.out" 2>"$demo/server.log" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$demo/server.out" && break; sleep 0.1; done
for code in HZ01 SZ01 HZ02; do
    printf '%s: ' "$code"
    store "$code" sync --server "tcp://127.0.0.1:$port" --server-key "$server_key"
done
for code in HZ01 SZ01 HZ02; do
    "$bin/client/jipan-store" -d "$demo/stores/$code" run --interval 1 -q \
        >"$demo/$code-run.log" 2>&1 &
    pids+=($!)
done
echo "GZ01's network is down: it works offline."

say "A customer of HZ01 walks into GZ01 (offline): GZ01 registers him again"
vin=$(awk -F, 'NR==2 {print $1}' "$demo/data/HZ01/vehicles.csv")
owner=$(awk -F, 'NR==2 {print $2}' "$demo/data/HZ01/vehicles.csv")
phone=$(awk -F, -v o="$owner" '$1 == o {print $3}' "$demo/data/HZ01/customers.csv")
gz="store GZ01 -u 服务顾问小王"
walkin=$($gz add customer --name 过路客户 --phone "$phone" --district 天河区 --source walk_in)
$gz add service --customer "$walkin" --vin "$vin" --service-type repair --mileage 31000 \
    --amount 1260 >/dev/null
echo "GZ01 wrote a customer and a repair visit; no network needed."

say "Meanwhile HZ01 (online) and GZ01 (offline) both work on that customer"
store HZ01 -u 客服小李 update "ext:$owner" --district 惠阳区 >/dev/null
sleep 1.1
store GZ01 -u 客服小陈 add contact --customer "$walkin" --channel phone \
    --purpose maintenance_reminder >/dev/null
echo "HZ01 moved him to 惠阳区; GZ01 called him about his next maintenance."

say "GZ01's network is back: one sync"
store GZ01 sync --server "tcp://127.0.0.1:$port" --server-key "$server_key"
sleep 1.5   # a round of the other stores' daemons
num_of() { awk -F, -v c="$1" '$2 == c {print $1}' "$demo/data/stores.csv"; }
view_of() { server view-digest --store "$(num_of "$1")" | awk '/^digest/ {print $2}'; }
for code in HZ01 SZ01 HZ02 GZ01; do
    for _ in $(seq 60); do
        [ "$(store "$code" digest)" = "$(view_of "$code")" ] && break
        store "$code" sync -q 2>/dev/null || sleep 0.5
    done
done

say "Each store holds exactly what its sharing rule gives it (客户信息保密; rule linked)"
echo "(its own customers, the history elsewhere of the people linked to them, its VINs' visits;"
echo " each store's state digest equals the server's digest of that store's view)"
server status | grep -E '^(group log|records)'
for code in HZ01 SZ01 HZ02 GZ01; do
    printf '%-5s %s\n' "$code" "$(store "$code" status | grep '^holds' | sed 's/^holds *//')"
    [ "$(store "$code" digest)" = "$(view_of "$code")" ] && echo "      digest = the server's view-digest --store $(num_of "$code")"
done

say "One customer across stores: GZ01's card of the walk-in shows his HZ01 history"
store GZ01 show "$walkin" | sed -n 1,24p

say "The group's loyalty report (a group analyst's key, from the server)"
query group report --as-of 2026-10-31
echo
echo "owners by district, now and a year before (quality = loyal, potential = effective or deal):"
query group report --as-of 2026-10-31 --table regional

say "A regional analyst sees 惠州 only; asking for the group is refused"
query region-hz report --format csv | sed -n 1,6p
query region-hz report --scope group || echo "(refused, as it must be)"

say "The store's own figures and today's work list work offline (HZ01)"
store HZ01 report --as-of 2026-10-31 | sed -n 1,12p
store HZ01 today --as-of 2026-10-31 | sed -n 1,12p

if [ -x "$bin/audit/jipan-audit" ]; then
    say "The auditor: export the group log, verify every chain, signature and receipt (store keys pinned by the stores' own key files)"
    server export -o "$demo/group.jpx"
    pins=()
    for code in HZ01 SZ01 HZ02 GZ01; do
        store "$code" keys --attest "$demo/$code.keys" >/dev/null
        pins+=(--store-keys "$demo/$code.keys")
    done
    "$bin/audit/jipan-audit" verify "$demo/group.jpx" "${pins[@]}" \
        --server-key "$(server keys | awk '$1 == "receipt" { print $2 }')"
fi

say "The screens in a browser: HZ01's counter (jipan-store web) and the group's dashboard (jipan-web)"
web_port=${JIPAN_DEMO_WEB_PORT:-8470}
dash_port=${JIPAN_DEMO_DASH_PORT:-8480}
web_pass=$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$web_pass" | store HZ01 web-user add demo --role manager
printf '%s\n' "$web_pass" | "$bin/dash/jipan-web" user add demo --users "$demo/web-users"
echo "  the counter:           http://127.0.0.1:$web_port/   (user demo, password $web_pass)"
echo "  the group's dashboard: http://127.0.0.1:$dash_port/   (user demo, the same password; the group analyst's key)"
if $keep_web; then
    "$bin/dash/jipan-web" --key "$demo/group.key" --server "tcp://127.0.0.1:$port" \
        --server-key "$server_key" --users "$demo/web-users" --port "$dash_port" &
    pids+=($!)
    echo "  serving both until Ctrl-C ..."
    store HZ01 web --port "$web_port"
else
    echo "  to open them: bash deploy/demo.sh --web (both served, with the server, until Ctrl-C)"
fi

say "Done.  Everything started here is stopped now; the files stay in $demo"
