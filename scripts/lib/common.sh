# shellcheck shell=bash
# The header every script shares (sourced): paths, logging, cleanup on exit, and the broker.
#
#   here          the repository root (the script runs from it)
#   log MSG       prints "<script>: MSG" on stderr
#   on_exit CMD   runs CMD when the script exits, after those registered before it
#   first_line FILE PREFIX PID
#                 waits (up to 120 s, while process PID lives) for a line starting with PREFIX in
#                 FILE and prints the rest of it; fails otherwise
#   use_broker    uses KAFKA_BROKERS if set, else the local broker on 127.0.0.1:9092: reused if
#                 one answers, started otherwise (and stopped on exit); exports KAFKA_BROKERS
#   broken_template COPY 'PATTERN=>REPLACEMENT'
#                 writes template.yaml to COPY with the first match of PATTERN (a regular
#                 expression, multi-line) replaced; fails unless it matched (the broken copies the
#                 template checks must refuse)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/activity-pipeline}"
export TOOLS_DIR PATH="$TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
script_name="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"

log() { printf '%s: %s\n' "$script_name" "$*" >&2; }

exit_actions=()
on_exit() { exit_actions=("$*" "${exit_actions[@]}"); }
run_exit_actions() {
  local status=$? action
  trap - EXIT
  for action in "${exit_actions[@]}"; do eval "$action" || true; done
  exit "$status"
}
trap run_exit_actions EXIT

first_line() {
  local file="$1" prefix="$2" pid="$3" line
  for _ in $(seq 1 1200); do
    line="$(sed -n "s|^$prefix||p" "$file" 2>/dev/null | head -n 1)"
    [[ -n "$line" ]] && { echo "$line"; return; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

use_broker() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    log "using the broker at KAFKA_BROKERS=$KAFKA_BROKERS"
    return
  fi
  export KAFKA_BROKERS=127.0.0.1:9092
  scripts/setup.sh kafka
  if scripts/kafka.sh status 2>/dev/null; then
    scripts/kafka.sh topics
  else
    scripts/kafka.sh start
    on_exit scripts/kafka.sh stop
  fi
}

broken_template() {
  python3 - "$1" "$2" <<'PY'
import re, sys
copy, expr = sys.argv[1], sys.argv[2]
text = open("template.yaml", encoding="utf-8").read()
pattern, replacement = expr.split("=>", 1)
changed, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
assert n == 1, f"mutation {expr!r} did not apply"
open(copy, "w", encoding="utf-8").write(changed)
PY
}
