#!/usr/bin/env bash
# Run the whole suite: type check, TypeScript tests (uvu), Python tests (pytest).
# Ends with one plain line `N passed, N failed` summing both runners.
set -uo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/find-python.sh)
log_dir=$(mktemp -d)
status=0

echo "== type check" >&2
node node_modules/typescript/bin/tsc --noEmit -p tsconfig.json || status=1

echo "== TypeScript tests (uvu)" >&2
node --import tsx node_modules/uvu/bin.js tests/ts '\.test\.ts$' 2>&1 | tee "$log_dir/uvu.log"
uvu_status=${PIPESTATUS[0]}
[[ $uvu_status -eq 0 ]] || status=1
ts_passed=$(sed 's/\x1b\[[0-9;]*m//g' "$log_dir/uvu.log" | awk '/^  Passed:/ {print $2}' | tail -n 1)
ts_failed=$(sed 's/\x1b\[[0-9;]*m//g' "$log_dir/uvu.log" | awk '/^  Total:/ {t=$2} /^  Passed:/ {p=$2} END {print t-p}')

echo "== Python tests (pytest, $python)" >&2
(cd tests/py && "$python" -m pytest -q -p no:cacheprovider . 2>&1) | tee "$log_dir/pytest.log"
py_status=${PIPESTATUS[0]}
[[ $py_status -eq 0 || $py_status -eq 5 ]] || status=1
py_passed=$(grep -Eo '[0-9]+ passed' "$log_dir/pytest.log" | tail -n 1 | cut -d' ' -f1)
py_failed=$(grep -Eo '[0-9]+ (failed|error|errors)' "$log_dir/pytest.log" | awk '{s+=$1} END {print s+0}')

passed=$(( ${ts_passed:-0} + ${py_passed:-0} ))
failed=$(( ${ts_failed:-0} + ${py_failed:-0} ))
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi
rm -rf "$log_dir"
echo "${passed} passed, ${failed} failed"
exit $status
