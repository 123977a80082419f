# shellcheck shell=bash
# Third-party tools built from crates.io sources with cargo (the broker, cargo-deny), sourced by
# scripts/setup.sh and scripts/kafka.sh after lib/common.sh.
#
# Each is installed `--locked`, from the Cargo.lock its authors published, which is not ours to
# edit. crates.io can stop offering a version such a lock pins (a crate deleted soon after its
# release; a mirror behind), and then `cargo install --locked` fails for every new machine while
# machines that have the tool go on working. So the lock is checked against the registry first,
# which reads only the index (no download, no build, about a second):
#
#   fetch_crate NAME VERSION SHA256
#        NAME-VERSION.crate from crates.io into $TOOLS_DIR/src (kept), checked against SHA256 and
#        unpacked afresh into $TOOLS_DIR/src/NAME-VERSION
#   lock_check TOOL VERSION DIR
#        whether DIR/Cargo.lock still resolves; if not, fails naming TOOL, each crate the registry
#        no longer offers, and what to do (make test runs this for every such tool)
#   lock_repair TOOL VERSION DIR
#        lock_check; where it fails, warns, then moves only the crates that no longer resolve
#        (`cargo update -p`), or, when cargo names none, resolves DIR afresh: the same TOOL
#        VERSION, with newer dependencies than its authors tested. The install then goes on
#        --locked from the repaired lock.

fetch_crate() {
  local name="$1" version="$2" sha="$3" file="$TOOLS_DIR/src/$1-$2.crate"
  mkdir -p "$TOOLS_DIR/src"
  if ! echo "$sha  $file" | sha256sum --check --quiet >/dev/null 2>&1; then
    curl -sSfL -o "$file" "https://static.crates.io/crates/$name/$name-$version.crate"
    echo "$sha  $file" | sha256sum --check --quiet
  fi
  rm -rf "$TOOLS_DIR/src/$name-$version"
  tar -xzf "$file" -C "$TOOLS_DIR/src"
}

# missing_crates OUTPUT: "name@version" for each locked version cargo could not select in OUTPUT.
missing_crates() {
  sed -n 's/.*failed to select a version for the requirement `\([^ `]*\) = .*(locked to \([^)]*\)).*/\1@\2/p' <<<"$1"
}

lock_check() {
  local tool="$1" version="$2" dir="$3" out crate
  out="$(cargo update --workspace --locked --manifest-path "$dir/Cargo.toml" 2>&1)" && return 0
  local missing
  missing="$(missing_crates "$out")"
  if [[ -z "$missing" ]]; then
    log "$tool $version: its Cargo.lock no longer resolves against the registry:"
    printf '%s\n' "$out" >&2
  fi
  for crate in $missing; do
    log "$tool $version: its Cargo.lock pins ${crate/@/ }, which the registry no longer offers"
  done
  log "$tool $version: installing it moves only what no longer resolves, with a warning;" \
    "to install as released, pin a release of $tool whose lock resolves (scripts/lib/versions.sh)"
  return 1
}

lock_repair() {
  local tool="$1" version="$2" dir="$3" out crate missing round moving=()
  out="$(cargo update --workspace --locked --manifest-path "$dir/Cargo.toml" 2>&1)" && return 0
  # cargo names one crate per attempt: move each named so far, together, until none is left.
  for round in 1 2 3 4 5 6 7 8; do
    missing="$(missing_crates "$out")"
    [[ -n "$missing" ]] || break
    for crate in $missing; do
      log "warning: $tool $version pins ${crate/@/ }, which the registry no longer offers;" \
        "moving that crate to a version it offers"
      moving+=(-p "$crate")
    done
    out="$(cargo update --quiet --manifest-path "$dir/Cargo.toml" "${moving[@]}" 2>&1)" && return 0
  done
  log "warning: $tool $version: its Cargo.lock does not resolve; resolving every dependency" \
    "afresh (the same $tool version, dependencies its authors did not test together)"
  cargo generate-lockfile --quiet --manifest-path "$dir/Cargo.toml"
}
