#!/usr/bin/env bash
# store_input.sh -- what a user types never breaks the store: a user name
# over docs/FORMAT.md's 128 bytes (-u or $JIPAN_USER, for add, update,
# delete and import) and control characters (ESC, BEL, \x01, DEL, C1) in
# names, ext ids and user names, from the command line and from CSV files,
# are refused with the limit or the row and field named, and change
# nothing: the log, verify and sync stay as they were.
set -euo pipefail
NAME=store-input
source "$(dirname "$0")/lib/store.bash"

new_store
ok add customer --name 张三 --phone 13800138000 --created-at 2025-01-10 --ext-id C1
C1=$(cat "$T/out")

# 43 Chinese characters: 129 bytes of UTF-8.
LONG=$(printf '张%.0s' $(seq 43))
[ "$(printf %s "$LONG" | wc -c)" -eq 129 ] || fail "test name is not 129 bytes"
OK128=$(printf '张%.0s' $(seq 42))xy

check "add with a 129-byte -u is refused, naming the limit"
before=$(log_len)
run 1 -u "$LONG" add customer --name 李四 --created-at 2025-01-11
has "$T/err" "at most 128"
has "$T/err" "-u"
[ "$(log_len)" -eq "$before" ] || fail "the refused add wrote a change"

check "add with a 129-byte \$JIPAN_USER is refused"
JIPAN_USER="$LONG" run 1 add customer --name 李四 --created-at 2025-01-11
has "$T/err" '$JIPAN_USER'
has "$T/err" "at most 128"

check "a 100,000-byte user name is refused too"
HUGE=$(head -c 100000 /dev/zero | tr '\0' 'a')
run 1 -u "$HUGE" update "$C1" --name 张三丰
has "$T/err" "100000 bytes, at most 128"
run 1 -u "$HUGE" delete "$C1"

check "import with a long user name is refused before reading a row"
printf 'ext_id,name,created_at\nC2,李四,2025-02-01\n' >"$T/c.csv"
run 1 -u "$LONG" import --customers "$T/c.csv"
has "$T/err" "at most 128"
[ "$(log_len)" -eq "$before" ] || fail "the refused import wrote a change"

check "a 128-byte user name is taken, and the store stays whole"
ok -u "$OK128" add customer --name 李四 --created-at 2025-01-11
ok verify
ok log
has "$T/out" "李四"

check "control characters in a user name are refused"
run 1 -u $'clerk\x1b[2J' add customer --name 王五 --created-at 2025-01-11
has "$T/err" "control character (U+001B)"

check "control characters typed in a field are refused, the field named"
before=$(log_len)
run 1 add customer --name $'王\x1b[2J五' --created-at 2025-01-11
has "$T/err" "--name"
has "$T/err" "U+001B"
run 1 add customer --name $'王五\a' --created-at 2025-01-11
has "$T/err" "U+0007"
run 1 add customer --name 王五 --ext-id $'C\x019' --created-at 2025-01-11
has "$T/err" "--ext-id"
has "$T/err" "U+0001"
run 1 update "$C1" --district $'惠城\x7f'
has "$T/err" "U+007F"
run 1 update "$C1" --district $'惠城\xc2\x9b2J'
has "$T/err" "U+009B"
[ "$(log_len)" -eq "$before" ] || fail "a refused edit wrote a change"

check "control characters in CSV cells are refused with file, line and column"
printf 'ext_id,name,created_at\nC10,ok,2025-02-01\nC11,\x1b]0;x\x07bad,2025-02-01\nC\x0112,x,2025-02-01\n' >"$T/ctl.csv"
run 1 import --customers "$T/ctl.csv"
has "$T/err" "ctl.csv:3: column 2 (name)"
has "$T/err" "U+001B"
has "$T/err" "ctl.csv:4: column 1 (ext_id)"
[ "$(log_len)" -eq "$before" ] || fail "a refused import wrote a change"
printf 'ext_id,name,created_at\nC10,"a\x00b",2025-02-01\n' >"$T/nul.csv"
run 1 import --customers "$T/nul.csv"
has "$T/err" "nul.csv:2: column 2 (name)"
has "$T/err" "U+0000"

check "partial import keeps the good row only"
run 1 import --partial --customers "$T/ctl.csv"
has "$T/out" "created 1"
ok find ext:C10
run 1 find ext:C11
ok verify
echo "PASS"
