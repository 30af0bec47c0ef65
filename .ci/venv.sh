# Sourced by .ci/install, .ci/run and tests/run: the Python environment CI and the tests run in.
# An activated virtualenv (VIRTUAL_ENV) is used as it is; otherwise DEVENV_VENV or .venv/ in the
# checkout (.venv-newest/ for --upgrade runs), so nothing the machine's own Python has installed (other
# tools, pytest plugins that load themselves) takes part: the lock is the whole environment.
# Puts its bin/ first on PATH, so `python3` below and in the harness is that environment's.
ci_venv() {
  local dir=$1
  if [ -n "${VIRTUAL_ENV:-}" ]; then dir=$VIRTUAL_ENV; fi
  if [ ! -x "$dir/bin/python3" ]; then
    python3 -m venv "$dir" >&2
  fi
  export VIRTUAL_ENV=$dir
  export PATH="$dir/bin:$PATH"
}
