# Quiet set-up for the shell entry points (sourced): one line per step on the terminal; everything the
# step's commands print (apt-get, pip, the compiler, the tests) goes to a log file, whose end is shown
# when the step fails. On a terminal the line also shows the log's latest line while the step runs.
#
#   source scripts/steps.sh
#   step "building (about 2 minutes)" swift build -c release
#
# The log: $JOULE_SETUP_LOG, by default .build/logs/setup.log (appended; each step starts with a header).
steps_log=${JOULE_SETUP_LOG:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build/logs/setup.log}
mkdir -p "$(dirname "$steps_log")" && touch "$steps_log"

# step MESSAGE COMMAND [ARGS...]: runs the command with its output in the log; on failure prints the
# log's last lines to stderr and returns the command's status (so `set -e` stops the script).
step() {
  local what=$1 rc=0 from
  shift
  from=$(( $(wc -l <"$steps_log") + 2 ))  # the step's own output, after its header line
  printf '== %s\n' "$(date '+%F %T') $what: $*" >>"$steps_log"
  if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ]; then
    "$@" >>"$steps_log" 2>&1 </dev/null &
    local pid=$! width
    width=$(( $(tput cols 2>/dev/null || echo 80) - ${#what} - 6 ))
    while kill -0 "$pid" 2>/dev/null; do
      printf '\r\033[K%s… %s' "$what" "$(tail -n 1 "$steps_log" | tr -d '\r' | cut -c "1-$(( width > 0 ? width : 1 ))")"
      sleep 0.5
    done
    wait "$pid" || rc=$?
    printf '\r\033[K%s… %s\n' "$what" "$([ $rc -eq 0 ] && echo done || echo failed)"
  else
    printf '%s…\n' "$what"
    "$@" >>"$steps_log" 2>&1 </dev/null || rc=$?
  fi
  if [ $rc -ne 0 ]; then
    {
      # A compiler's errors may be far above the end of its output: those lines first, then the end.
      if tail -n "+$from" "$steps_log" | grep -q "error:"; then
        echo "$what: failed (exit status $rc). Its errors (all of its output in $steps_log):"
        tail -n "+$from" "$steps_log" | grep "error:" | head -n 30 | sed 's/^/  | /'
        echo "and the end of its output:"
        tail -n "+$from" "$steps_log" | tail -n 10 | sed 's/^/  | /'
      else
        echo "$what: failed (exit status $rc). The end of its output (all of it in $steps_log):"
        tail -n "+$from" "$steps_log" | tail -n 40 | sed 's/^/  | /'
      fi
    } >&2
  fi
  return $rc
}
