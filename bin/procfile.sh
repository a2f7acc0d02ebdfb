# Sourced by bin/serve and bin/serve-aws: run processes named in the Procfile, from the
# virtualenv ($VENV, default .venv), until the first one exits or Ctrl-C; then stop them all.

BIN="${VENV:-.venv}/bin"
export PATH="$(cd "$BIN" && pwd):$PATH"
# Every process writes its metric samples here and /metrics sums them (config/settings.py);
# set to "" to turn that off.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR-${VAR_DIR:-var}/metrics}"

pids=()
stop() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# procfile_command NAME: the command line of process NAME.
procfile_command() {
  sed -n "s/^$1:[[:space:]]*//p" Procfile
}

# clean_metrics: forget the samples of processes from an earlier start; only a launcher that
# starts every process sharing the directory may do this (they are all stopped now).
clean_metrics() {
  if [ -n "$PROMETHEUS_MULTIPROC_DIR" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  fi
}

# start_processes NAME...: start each named Procfile process in the background.
start_processes() {
  local name command
  for name in "$@"; do
    command="$(procfile_command "$name")"
    if [ -z "$command" ]; then
      echo "Procfile: no process named $name" >&2
      exit 1
    fi
    # A shell per process expands the Procfile's ${PORT:-8000} and the like.
    bash -c "exec $command" &
    pids+=($!)
  done
}

# wait_for_any: return as soon as any started process exits (the EXIT trap stops the rest).
wait_for_any() {
  wait -n
}
