#!/usr/bin/env bash
# The Debian packages the test suite needs beyond Python and Node: the toolchains of the
# callers in clients/ (tests/test_callers.py builds and runs them): JDK 17 with Gson, and
# Mono with Newtonsoft.Json (no .NET SDK installs on Debian without downloading binaries);
# and Chromium, the browser the studio's tests drive (tests/test_studio_browser.py, through
# Playwright pointed at /usr/bin/chromium: no browser download).
# `make setup` runs this; it installs nothing when everything is there already.
set -euo pipefail

present() {
  local command
  for command in javac java mcs mono chromium; do
    command -v "$command" >/dev/null 2>&1 || return 1
  done
  [ -f /usr/share/java/gson.jar ] || return 1
  compgen -G "/usr/lib/cli/Newtonsoft.Json*/Newtonsoft.Json.dll" >/dev/null \
    || compgen -G "/usr/lib/mono/gac/Newtonsoft.Json/*/Newtonsoft.Json.dll" >/dev/null
}

present && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Install a JDK 17 with Gson, and Mono with Newtonsoft.Json, for tests/test_callers.py," >&2
  echo "and Chromium (/usr/bin/chromium) for tests/test_studio_browser.py" >&2
  exit 1
fi
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  default-jdk-headless libgoogle-gson-java mono-devel libnewtonsoft-json-cil-dev chromium
