#!/usr/bin/env bash
# Installs the real third-party peers Skyrelay's tests run against, and only
# those that are missing (docs/testing.md). Idempotent; a no-op that takes a
# fraction of a second when everything is there.
#
#   scripts/install-test-peers.sh            check, install what is missing
#   scripts/install-test-peers.sh --check    check only; exit 1 if anything is missing
#   scripts/install-test-peers.sh --dry-run  print what would be installed, change nothing
#
# Installing needs root on Debian or Ubuntu (apt-get) and the npm registry.
# Anywhere else it prints exactly what is missing and exits 1: tests never
# skip a missing peer, they fail.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
BROWSER_DIR="$ROOT/test/browser"

mode=install
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --dry-run) mode=dry-run ;;
  -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--check|--dry-run]" >&2; exit 2 ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }
# Any of the given paths (globs allowed) exists.
exists() {
  local p
  for p in "$@"; do
    [ -e "$p" ] && return 0
  done
  return 1
}

# present PACKAGE: is the Debian package's payload that the tests use here?
# Checked by file, not by dpkg, so the answer is the same on any system and
# costs no process start.
present() {
  case "$1" in
    ffmpeg) have ffmpeg && have ffprobe ;;
    chromium) [ -x /usr/bin/chromium ] ;;
    firefox-esr) [ -x /usr/bin/firefox-esr ] ;;
    webkit2gtk-driver) have WebKitWebDriver && exists /usr/lib/*/webkit2gtk-4.1/MiniBrowser ;;
    xvfb) [ -x /usr/bin/Xvfb ] ;;
    mosquitto) have mosquitto || [ -x /usr/sbin/mosquitto ] ;;
    mosquitto-clients) have mosquitto_pub && have mosquitto_sub ;;
    sip-tester) have sipp ;;
    gstreamer1.0-tools) have gst-launch-1.0 && have gst-inspect-1.0 ;;
    gstreamer1.0-rtsp) exists /usr/lib/*/gstreamer-1.0/libgstrtspclientsink.so ;;
    gir1.2-gst-rtsp-server-1.0) exists /usr/lib/*/girepository-1.0/GstRtspServer-1.0.typelib ;;
    python3-gi) [ -x /usr/bin/python3 ] && exists /usr/lib/python3/dist-packages/gi/__init__.py ;;
    gstreamer1.0-plugins-base) exists /usr/lib/*/gstreamer-1.0/libgstapp.so ;;
    gstreamer1.0-plugins-good) exists /usr/lib/*/gstreamer-1.0/libgstisomp4.so && exists /usr/lib/*/gstreamer-1.0/libgstrtp.so ;;
    gstreamer1.0-plugins-bad) exists /usr/lib/*/gstreamer-1.0/libgstvideoparsersbad.so && exists /usr/lib/*/gstreamer-1.0/libgstmpegpsmux.so ;;
    fonts-wqy-microhei) exists /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ;;
    nodejs) have node ;;
    npm) have npm ;;
    yamllint) have yamllint ;;
    curl) have curl ;;
    *) echo "install-test-peers.sh: no check for $1" >&2; return 1 ;;
  esac
}

DEB_PACKAGES=(
  ffmpeg
  chromium
  firefox-esr       # the pages in Firefox (test/browser/pages.mjs)
  webkit2gtk-driver # ... and in WebKit, Safari's engine: WebKitWebDriver + MiniBrowser
  xvfb              # ... which needs an X display
  mosquitto
  mosquitto-clients
  sip-tester
  gstreamer1.0-tools
  gstreamer1.0-rtsp
  gir1.2-gst-rtsp-server-1.0
  python3-gi
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  yamllint
  curl
  fonts-wqy-microhei # Chinese text in the pages' screenshots (gateway/web)
)

missing_deb=()
for p in "${DEB_PACKAGES[@]}"; do
  present "$p" || missing_deb+=("$p")
done
# Node.js drives Chromium through playwright-core. The machine image ships
# Node 20 (with npm); only a machine without any node gets Debian's.
if ! present nodejs; then
  missing_deb+=(nodejs npm)
elif ! present npm; then
  missing_deb+=(npm)
fi

# playwright-core (Chromium) and puppeteer-core (Firefox), pinned in
# test/browser/package.json and its lock file.
want_npm() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$BROWSER_DIR/package.json" | head -n1; }
have_npm() {
  [ -f "$BROWSER_DIR/node_modules/$1/package.json" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$BROWSER_DIR/node_modules/$1/package.json" | head -n1
}
want_pw=$(want_npm playwright-core)
have_pw=$(have_npm playwright-core)
want_pp=$(want_npm puppeteer-core)
have_pp=$(have_npm puppeteer-core)
need_npm=0
[ -n "$want_pw" ] && [ "$have_pw" = "$want_pw" ] || need_npm=1
[ -n "$want_pp" ] && [ "$have_pp" = "$want_pp" ] || need_npm=1

# The Debian mosquitto package runs a broker on :1883 as a service; the
# gateway's embedded broker wants that port and tests start their own
# Mosquitto on free ports. Stop and disable it wherever it was started.
mosquitto_service_running() {
  local pid
  [ -r /run/mosquitto/mosquitto.pid ] || return 1
  pid=$(cat /run/mosquitto/mosquitto.pid 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ]
}
mosquitto_service_enabled() {
  [ -d /run/systemd/system ] && exists /etc/systemd/system/multi-user.target.wants/mosquitto.service
}
quiet_mosquitto_service() {
  if [ -d /run/systemd/system ] && have systemctl; then
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
  if have update-rc.d && [ -e /etc/init.d/mosquitto ]; then
    update-rc.d mosquitto disable >/dev/null 2>&1 || true
  fi
  if mosquitto_service_running; then
    if [ -x /etc/init.d/mosquitto ]; then
      /etc/init.d/mosquitto stop >/dev/null 2>&1 || true
    fi
    if mosquitto_service_running; then
      kill "$(cat /run/mosquitto/mosquitto.pid)" 2>/dev/null || true
    fi
  fi
}

service_fix=0
if present mosquitto && { mosquitto_service_running || mosquitto_service_enabled; }; then
  service_fix=1
fi

# Stopping the service needs root; for anyone else it is only a warning.
if [ $service_fix -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "warning: mosquitto's system service is running or enabled on :1883; make run's embedded broker needs that port (as root: systemctl disable --now mosquitto)" >&2
  service_fix=0
fi

if [ ${#missing_deb[@]} -eq 0 ] && [ $need_npm -eq 0 ] && [ $service_fix -eq 0 ]; then
  echo "test peers: all present (ffmpeg, chromium, firefox, webkit, mosquitto, sipp, gstreamer rtsp server, yamllint, playwright-core $want_pw, puppeteer-core $want_pp)"
  exit 0
fi

report() {
  if [ ${#missing_deb[@]} -gt 0 ]; then
    echo "missing Debian packages: ${missing_deb[*]}"
  fi
  if [ $need_npm -eq 1 ]; then
    echo "missing npm packages in test/browser/: playwright-core@${want_pw:-?} (have: ${have_pw:-none}), puppeteer-core@${want_pp:-?} (have: ${have_pp:-none})"
  fi
  if [ $service_fix -eq 1 ]; then
    echo "mosquitto's system service is running or enabled on :1883 (the gateway's embedded broker needs that port)"
  fi
}

if [ "$mode" = check ]; then
  report >&2
  exit 1
fi

is_debian=0
if [ -r /etc/os-release ] && have apt-get && have dpkg; then
  # shellcheck disable=SC1091
  . /etc/os-release
  case " ${ID:-} ${ID_LIKE:-} " in *" debian "*|*" ubuntu "*) is_debian=1 ;; esac
fi

if [ "$mode" = dry-run ]; then
  report
  [ ${#missing_deb[@]} -gt 0 ] && echo "would run: apt-get update && apt-get install -y --no-install-recommends ${missing_deb[*]}"
  [ $need_npm -eq 1 ] && echo "would run: npm ci --prefix test/browser (playwright-core $want_pw, puppeteer-core $want_pp, no browser download)"
  [ $service_fix -eq 1 ] && echo "would stop and disable the mosquitto system service"
  exit 0
fi

if [ ${#missing_deb[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || [ $is_debian -eq 0 ]; then
    {
      echo "install-test-peers.sh: cannot install here (needs root on Debian/Ubuntu; this is uid $(id -u) on ${PRETTY_NAME:-$(uname -s)})."
      report
      echo "Install them, then run this script again. Tests fail (they do not skip) while a peer is missing."
    } >&2
    exit 1
  fi
fi

if [ ${#missing_deb[@]} -gt 0 ]; then
  echo "test peers: installing ${missing_deb[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting services (mosquitto's broker) while
  # installing, when no one else has set a policy. Debian's documented hook.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  trap '[ $own_policy -eq 1 ] && rm -f "$policy"' EXIT
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing_deb[@]}"
  [ $own_policy -eq 1 ] && rm -f "$policy"
  own_policy=0
  still=()
  for p in "${missing_deb[@]}"; do present "$p" || still+=("$p"); done
  if [ ${#still[@]} -gt 0 ]; then
    echo "install-test-peers.sh: installed, but still not found: ${still[*]}" >&2
    exit 1
  fi
fi

if present mosquitto && [ "$(id -u)" -eq 0 ]; then
  quiet_mosquitto_service
  if mosquitto_service_running; then
    echo "install-test-peers.sh: could not stop the mosquitto system service (pid $(cat /run/mosquitto/mosquitto.pid))" >&2
    exit 1
  fi
fi

if [ $need_npm -eq 1 ]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$node_major" -lt 20 ]; then
    echo "install-test-peers.sh: playwright-core $want_pw and puppeteer-core $want_pp need Node.js >= 20; this node is $(node --version)." >&2
    exit 1
  fi
  echo "test peers: installing playwright-core $want_pw and puppeteer-core $want_pp into test/browser/"
  # Neither -core package downloads a browser; the variables are belt and braces.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund --loglevel=error
  have_pw=$(have_npm playwright-core)
  have_pp=$(have_npm puppeteer-core)
  if [ "$have_pw" != "$want_pw" ] || [ "$have_pp" != "$want_pp" ]; then
    echo "install-test-peers.sh: npm ci left playwright-core ${have_pw:-absent} and puppeteer-core ${have_pp:-absent}, want $want_pw and $want_pp" >&2
    exit 1
  fi
fi

echo "test peers: ready"
