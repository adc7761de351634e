# shellcheck shell=bash
# Sourced by tools/engine/build.sh and tools/cluster/build.sh: a binary is rebuilt only when the hash
# of everything it is built from (its wrapper module's go.mod, go.sum and main.go if any, the build
# script, this file and the Go version) differs from the stamp written beside it. The sourcing
# script sets BIN_DIR and BUILD_SCRIPT and defines build_<module> for each wrapper module <module>.
STAMPS_FILE="${BASH_SOURCE[0]}"

# The hash of `go version`, the build script, this file and the given files.
fingerprint() {
  { go version; sha256sum "$BUILD_SCRIPT" "$STAMPS_FILE"; for file in "$@"; do sha256sum "$file"; done; } | sha256sum | cut -d' ' -f1
}

# True when every given binary exists and carries the stamp $1.
up_to_date() {
  local stamp=$1; shift
  for binary in "$@"; do
    [ -x "$BIN_DIR/$binary" ] && [ -f "$BIN_DIR/.$binary.stamp" ] && [ "$(cat "$BIN_DIR/.$binary.stamp")" = "$stamp" ] || return 1
  done
}

# Writes the stamp $1 beside every given binary.
write_stamp() {
  local stamp=$1; shift
  for binary in "$@"; do echo "$stamp" > "$BIN_DIR/.$binary.stamp"; done
}

# `build <module> <label> <binaries...>`: runs build_<module> unless every binary carries the stamp of
# the module's files, then stamps them. Messages start with the build script's dir (engine, cluster).
build() {
  local module=$1 label=$2; shift 2
  local prefix inputs=("$module/go.mod" "$module/go.sum") stamp
  prefix=$(basename "$(dirname "$BUILD_SCRIPT")")
  if [ -f "$module/main.go" ]; then inputs+=("$module/main.go"); fi
  stamp=$(fingerprint "${inputs[@]}")
  if up_to_date "$stamp" "$@"; then
    echo "$prefix: $* up to date"
    return
  fi
  local start=$SECONDS
  "build_$module"
  write_stamp "$stamp" "$@"
  echo "$prefix: built $label in $((SECONDS - start)) s"
}
