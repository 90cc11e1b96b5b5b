#!/usr/bin/env bash
# The main job, for a newcomer: install, build, and run a local group of
# stores on generated data -- import, offline edits at the counter, a
# customer's card and timeline, chain verification, status.
# Everything it makes lives under $JIPAN_DEMO_DIR (default /tmp/jipan-demo)
# and is removed at the start of the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing what is needed and building (Release)"
bash deploy/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DJIPAN_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
bin=$PWD/build-release
store() { "$bin/client/jipan-store" "$@"; }

demo=${JIPAN_DEMO_DIR:-/tmp/jipan-demo}
rm -rf "$demo"
mkdir -p "$demo/stores"

say "Generating a dealer group: 3 stores in 惠州, 深圳, 广州 (jipan-gen, seed 7)"
"$bin/tools/jipan-gen" --out "$demo/data" --stores 3 --customers 3000 --seed 7
cat "$demo/data/stores.csv"

say "Each store: init (keys, LMDB) and import its old system's CSV files"
while IFS=, read -r num code name region; do
    [[ $num == store ]] && continue
    dir=$demo/stores/$code
    store -d "$dir" init --store "$num" --code "$code" --name "$name" \
        --region "$region" --group 粤港汽车集团 >/dev/null
    printf '%s: ' "$code"
    store -d "$dir" -u 数据迁移 import --customers "$demo/data/$code/customers.csv" \
        --vehicles "$demo/data/$code/vehicles.csv" --events "$demo/data/$code/events.csv"
done <"$demo/data/stores.csv"

say "Importing the same files again changes nothing"
store -d "$demo/stores/HZ01" import --customers "$demo/data/HZ01/customers.csv" \
    --vehicles "$demo/data/HZ01/vehicles.csv" --events "$demo/data/HZ01/events.csv"

say "A bad file is refused, row by row, and nothing is written"
bad=$demo/bad.csv
{
    echo "ext_id,name,phone,id_number,created_at"
    echo "N1,黄先生,1380013800,,2026-10-01"
    echo "N2,林女士,13800138001,110105199001011234,2026-10-01"
    echo "N3,赵先生,13800138002,,2026-13-01"
} >"$bad"
store -d "$demo/stores/HZ01" import --customers "$bad" || true

say "The network is down; the counter keeps working (HZ01)"
phone=$(awk -F, 'NR==2 {print $3}' "$demo/data/HZ01/customers.csv")
vin=$(awk -F, 'NR==2 {print $1}' "$demo/data/HZ01/vehicles.csv")
owner=$(awk -F, 'NR==2 {print $2}' "$demo/data/HZ01/vehicles.csv")
s="store -d $demo/stores/HZ01 -u 服务顾问小李"
$s add service --customer "ext:$owner" --vin "$vin" --service-type periodic \
    --mileage 25000 --amount 880 >/dev/null
$s add contact --customer "ext:$owner" --channel wechat --purpose maintenance_reminder >/dev/null
c=$($s add customer --name 新客户 --phone 13912345678 --district 惠城区 --grade H --source walk_in)
echo "new prospect: $c"
$s update "$c" --grade A >/dev/null
echo "graded A after the test drive"

say "A customer walks in: find by VIN, then the card and the timeline"
store -d "$demo/stores/HZ01" find "$vin"
store -d "$demo/stores/HZ01" show "ext:$owner"

say "Every store verifies its hash chain"
for dir in "$demo"/stores/*; do store -d "$dir" verify; done

say "Status of HZ01"
store -d "$demo/stores/HZ01" status

say "Done. The stores are in $demo/stores; try: $bin/client/jipan-store -d $demo/stores/HZ01 --help"
