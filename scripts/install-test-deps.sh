#!/usr/bin/env bash
# What the browser tests (tests/browser) need outside the venv, installed only when missing:
#   - Debian's Chromium at /usr/bin/chromium (apt-get; sudo only when not root). Never a
#     browser download of Playwright's own: `playwright install` is not used anywhere.
#   - axe-core, pinned, from the npm registry into tests/browser/.node (git-ignored).
# `make test` runs it after the venv install and before pytest. Idempotent; a run that finds
# everything in place prints nothing and takes a fraction of a second.
# Under CI=true a missing tool is an error; elsewhere it is a warning and the browser tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION="4.14.1"            # keep in step with AXE_VERSION in tests/browser/support.py
NODE_DIR="tests/browser/.node"
CHROMIUM="/usr/bin/chromium"

say() { echo "install-test-deps: $*" >&2; }
missing() {  # a tool that cannot be installed here: fatal under CI, a warning elsewhere
    if [ "${CI:-}" = "true" ]; then say "ERROR: $*"; exit 1; fi
    say "warning: $* (browser tests will skip)"
}

# -- Chromium (Debian's package) ---------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=""
    elif command -v sudo >/dev/null 2>&1; then
        as_root="sudo"
    else
        as_root="none"
    fi
    if [ "$as_root" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
        missing "$CHROMIUM is missing and cannot be installed here (needs apt-get, as root or with sudo)"
    else
        say "installing Debian's chromium (apt-get)"
        # $as_root unquoted on purpose: empty as root, "sudo" otherwise
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq -o=Dpkg::Use-Pty=0 install -y --no-install-recommends \
            chromium fonts-liberation >/dev/null 2> >(grep -v '^debconf: delaying package configuration' >&2)
        [ -x "$CHROMIUM" ] || missing "apt-get installed chromium but $CHROMIUM is still missing"
    fi
fi

# -- axe-core (npm, pinned) ------------------------------------------------------------------------
package_json="$NODE_DIR/node_modules/axe-core/package.json"
installed=""
if [ -f "$package_json" ] && [ -f "$NODE_DIR/node_modules/axe-core/axe.min.js" ]; then
    installed="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$package_json" | head -n 1)"
fi
if [ "$installed" != "$AXE_VERSION" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        missing "npm is missing: cannot install axe-core@$AXE_VERSION into $NODE_DIR"
    else
        say "installing axe-core@$AXE_VERSION into $NODE_DIR (npm)"
        mkdir -p "$NODE_DIR"
        npm install --prefix "$NODE_DIR" --no-audit --no-fund --no-update-notifier --save-exact --loglevel=error \
            "axe-core@$AXE_VERSION" >/dev/null
    fi
fi
