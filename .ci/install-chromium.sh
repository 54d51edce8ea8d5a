#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser), which Playwright drives headless.
#
# Idempotent: exits at once when the browser is there ($OMNI_CHROMIUM, default /usr/bin/chromium, the path
# the tests launch). Otherwise installs Debian's "chromium" package. Playwright never downloads a browser of
# its own here: the Python package ships only its driver, and the tests pass this executable to it.
set -euo pipefail

chromium="${OMNI_CHROMIUM:-/usr/bin/chromium}"

if [[ -x "$chromium" ]]; then
    echo "Chromium already present: ${chromium}"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "${chromium} not found and apt-get unavailable; install Chromium manually" \
        "or point OMNI_CHROMIUM at its executable" >&2
    exit 1
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "installing chromium needs root or sudo" >&2
        exit 1
    fi
    sudo=(sudo)
fi

# Through env because sudo resets the environment; noninteractive so debconf never waits on CI.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
# With the recommended packages: they bring the fonts the pages are rendered (and screenshotted) with.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

if [[ ! -x "$chromium" ]]; then
    echo "chromium installed, but ${chromium} is still missing (set OMNI_CHROMIUM to its path)" >&2
    exit 1
fi
echo "Chromium installed: ${chromium}"
