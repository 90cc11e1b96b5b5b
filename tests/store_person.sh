#!/usr/bin/env bash
# store_person.sh -- the counter finds a person by what the person says:
# `find` by resident ID number (the ID number never on screen), and
# `show PHONE` or `show IDNUM` of a customer registered at two stores,
# whose rows the server has linked as one person, shows that person's card
# instead of refusing "2 customers have that phone".  A real server and two
# stores on 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/lib/group.bash"
jp_group store-person 27400
export JIPAN_USER=tester
unset TZ JIPAN_STORE_DIR

PHONE=13800138000
IDNUM=441303200012220006
IDNUM_MASK=4413**********0006

jp_store s1 1 HZ01 惠州一店 惠州
jp_store s2 2 SZ01 深圳一店 深圳
jp_server_start
jp_first_sync s1 s2

check "find by ID number, masked"
S s1 add customer --name 张三 --phone "$PHONE" --id-number "$IDNUM" --created-at 2025-01-10 >"$T/id1"
S s1 find "$IDNUM" >"$T/out" 2>"$T/err" || fail "find by ID number: $(cat "$T/err")"
grep -qF "$(cat "$T/id1")" "$T/out" || fail "find by ID number did not list the customer"
grep -qF "$IDNUM" "$T/out" "$T/err" && fail "the ID number is on the screen"
S s1 find 441303200012220007 >"$T/out" 2>"$T/err" && fail "a wrong ID number was found"
grep -qF "not an ID number" "$T/err" || fail "wrong ID number: $(cat "$T/err")"
grep -qF 441303200012220007 "$T/err" && fail "the typed ID number is repeated in the message"
S s1 show "$IDNUM" >"$T/out" 2>"$T/err" || fail "show by ID number: $(cat "$T/err")"
grep -qF "$IDNUM_MASK" "$T/out" || { cat "$T/out" >&2; fail "show does not mask the ID number"; }

check "the same person registered at a second store is linked by the server"
S s2 add customer --name 张三 --phone "$PHONE" --id-number "$IDNUM" --created-at 2025-03-01 >"$T/id2"
S s2 add contact --customer "$(cat "$T/id2")" --channel wechat --at 2025-03-02 >/dev/null
S s1 sync -q
S s2 sync -q
S s1 sync -q
for _ in $(seq 20); do
    S s1 show "$(cat "$T/id1")" >"$T/out" 2>/dev/null
    grep -q "^same person" "$T/out" && break
    sleep 0.2
    S s1 sync -q
done
grep -q "^same person" "$T/out" || { cat "$T/out" >&2; fail "the two rows were not linked"; }

check "show PHONE and show IDNUM open the person, this store's row first"
for key in "$PHONE" "$IDNUM"; do
    S s1 show "$key" >"$T/out" 2>"$T/err" || fail "show: $(cat "$T/err")"
    grep -qF "$(cat "$T/id1")" "$T/out" || { cat "$T/out" >&2; fail "show did not open store 1's row"; }
    grep -q "^same person" "$T/out" || { cat "$T/out" >&2; fail "show does not name the linked row"; }
    grep -qE ' contact +.*wechat' "$T/out" || { cat "$T/out" >&2; fail "show lacks store 2's contact"; }
    grep -qF "$IDNUM" "$T/out" && fail "the ID number is on the screen"
done
S s2 show "$PHONE" >"$T/out" 2>"$T/err" || fail "show at store 2: $(cat "$T/err")"
grep -qF "$(cat "$T/id2")" "$T/out" || { cat "$T/out" >&2; fail "store 2's show did not open its row"; }

check "two customers sharing a phone who are not one person are still told apart"
S s1 add customer --name 李四 --phone 13900139000 --created-at 2025-01-10 >/dev/null
S s1 add customer --name 王五 --phone 13900139000 --created-at 2025-01-11 >/dev/null
S s1 show 13900139000 >"$T/out" 2>"$T/err" && fail "show picked one of two different people"
grep -qF "2 customers have that phone" "$T/err" || fail "unexpected: $(cat "$T/err")"
echo "PASS"
