#!/usr/bin/env bash
# store_import_rules.sh -- a dry run's verdict is the real run's: every
# rule the write phase enforces is judged in the check phase, so that
# `import --partial` after a clean dry run writes the good rows, and a
# refused row is named by file and line.  The case that broke it: a
# complaint_contact naming an event the store holds as a contact, while
# events.csv also has a row for that event (as a complaint).
set -euo pipefail
NAME=store-import-rules
source "$(dirname "$0")/lib/store.bash"

new_store
H=ext_id,customer_ext_id,kind,at,channel,purpose,severity,subject,complaint_ext_id
printf 'ext_id,name,phone,created_at\nC1,张三,13800138000,2025-01-01\n' >"$T/c.csv"
printf '%s\nE1,C1,contact,2025-02-01T10:00,phone,day3,,,\n' "$H" >"$T/e1.csv"
ok import --customers "$T/c.csv" --events "$T/e1.csv"

cat >"$T/e2.csv" <<EOF
$H
E1,C1,complaint,2025-02-01T10:00,,,major,service,
E2,C1,complaint_contact,2025-02-02T10:00,phone,,,,E1
E3,C1,contact,2025-02-03T10:00,phone,day7,,,
E4,C1,complaint,2025-02-04T10:00,,,minor,sales,
E5,C1,complaint_contact,2025-02-05T10:00,phone,,,,E4
EOF

check "the check phase refuses the complaint_contact whose complaint is a contact in the store"
run 1 import --partial --dry-run --events "$T/e2.csv"
has "$T/err" "e2.csv:2: column 1 (ext_id): event 'E1' is already in the store as a contact event"
has "$T/err" "e2.csv:3: column 9 (complaint_ext_id): 'E1' is a contact event, not a complaint"
has "$T/out" "rejected 2"
dry=$(grep -o 'created [0-9]*' "$T/out")

check "the real run does what the dry run said: the good rows are written"
before=$(log_len)
run 1 import --partial --events "$T/e2.csv"
has "$T/out" "rejected 2"
has "$T/out" "$dry"
hasnt "$T/err" "not written"
[ "$(log_len)" -eq $((before + 3)) ] || fail "$(( $(log_len) - before )) changes written, 3 wanted"
ok find ext:E3
ok verify

check "without --partial, the same verdict and nothing written"
new_store
ok import --customers "$T/c.csv" --events "$T/e1.csv"
before=$(log_len)
run 1 import --events "$T/e2.csv"
has "$T/err" "2 rows rejected; nothing imported"
[ "$(log_len)" -eq "$before" ] || fail "a refused import wrote changes"
echo "PASS"
