# Shared helpers for Tidemark's scripts (sourced, not run).
# Why: the run and test commands must work on a fresh Debian machine, so every script installs
# what it needs the same way, and only when it is missing.

TIDEMARK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export TIDEMARK_ROOT

log() { printf '[tidemark] %s\n' "$*" >&2; }
die() { printf '[tidemark] error: %s\n' "$*" >&2; exit 1; }

_apt_updated=0
# ensure_debian_packages PKG...: installs the Debian packages that are not installed yet.
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  if [ "$_apt_updated" -eq 0 ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    _apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "could not install ${missing[*]}"
}

# ensure_rust: the toolchain comes from rustup; this only checks it and says what to do.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs) and retry"
}

# ensure_build_tools: what the bundled SQLite and the TLS stack need to compile.
ensure_build_tools() {
  local need=()
  command -v cc >/dev/null 2>&1 || need+=(build-essential)
  command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
  # libdbus for the keyring crate (Secret Service), which the app and the CLI keep tokens in.
  pkg-config --exists dbus-1 2>/dev/null || need+=(libdbus-1-dev)
  [ ${#need[@]} -eq 0 ] || ensure_debian_packages "${need[@]}"
}

# The cache directory for things kept between runs outside the clone (npm installs, etc.).
TIDEMARK_CACHE_DIR="${TIDEMARK_CACHE_DIR:-$HOME/.cache/tidemark}"
export TIDEMARK_CACHE_DIR

# The Debian packages the desktop app (Tauri 2 on WebKitGTK) needs to build and run.
TAURI_DEBIAN_PACKAGES=(libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev build-essential pkg-config libssl-dev)
# What the app's GUI tests add: a virtual X display and the WebKit WebDriver.
GUI_TEST_DEBIAN_PACKAGES=(xvfb xauth webkit2gtk-driver)

# ensure_tauri_packages: the libraries the desktop app builds against.
ensure_tauri_packages() {
  ensure_debian_packages "${TAURI_DEBIAN_PACKAGES[@]}"
}

# ensure_tauri_driver: tauri-driver (the WebDriver bridge for the GUI tests), built once.
ensure_tauri_driver() {
  [ -x "$HOME/.cargo/bin/tauri-driver" ] && export PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v tauri-driver >/dev/null 2>&1; then
    log "tauri-driver not found; installing it (about a minute)"
    cargo install tauri-driver --locked || die "could not install tauri-driver"
  fi
}

# The schemathesis release the hostile-input test runs (pinned so runs are comparable).
SCHEMATHESIS_VERSION="4.32.5"
# Where that test looks for it (crates/tidemark-server/tests/schemathesis.rs reads the same path).
SCHEMATHESIS_VENV="$TIDEMARK_CACHE_DIR/venv"
export SCHEMATHESIS_VENV

# ensure_schemathesis: a Python venv holding the pinned schemathesis, made once.
ensure_schemathesis() {
  local have
  have="$("$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" || true
  [ "$have" = "$SCHEMATHESIS_VERSION" ] && return 0
  python3 -c 'import venv, ensurepip' 2>/dev/null || ensure_debian_packages python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV" || die "could not create a Python venv at $SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "could not install schemathesis $SCHEMATHESIS_VERSION from PyPI"
}
