#!/usr/bin/env bash
# Packaging test: builds (or reuses, when nothing changed) the fully static
# boxd with packaging/build-static and its .deb with packaging/build-deb, then
# checks what a user gets from the .deb:
#   - dpkg -x into a temp root; <root>/usr/bin/boxd version runs;
#   - `file` says "statically linked";
#   - the binary alone in an otherwise empty chroot runs `boxd version`;
#   - the control file has the CMake project version, no Depends, and
#     Recommends what the local server runs;
#   - `man --warnings` renders the man page without a single warning;
#   - the installed bash completion completes `boxd bo` to `box`;
#   - zsh and fish completions are where those shells look for them;
#   - the boxd-local systemd unit passes `systemd-analyze verify` (its
#     ExecStart pointed at the packaged binary, its man: link at the packaged
#     man page), runs /usr/bin/boxd, and nothing in the .deb enables it;
#   - the packaged binary passes tests/e2e/test_auth.py, test_exec_basic.py
#     and test_transport.py (TLS and plaintext: the static binary registers
#     its own, smaller set of gRPC plugins, cmd/static/grpc_plugins.cpp).
# Exit 0 = pass, 77 = skipped (chroot needs root and there is no sudo -n).
# Env: BOXD_CCACHE_LIKE (the dev build dir whose ccache entries to reuse),
#      BOXD_PACKAGING_REUSE=1 (do not rebuild; use the existing binary/.deb).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*" >&2; }

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "SKIP: building needs apt-get source and the chroot check needs root (no sudo -n)" >&2
    exit 77
  fi
fi

start=$(date +%s)
if [[ ${BOXD_PACKAGING_REUSE:-0} != 1 ]]; then
  packaging/build-static || { echo "FAIL: packaging/build-static" >&2; exit 1; }
fi
built=$(date +%s)
deb=$(ls -t build/static/boxd_*_amd64.deb 2>/dev/null | head -1)
if [[ ${BOXD_PACKAGING_REUSE:-0} != 1 || -z $deb ]]; then
  deb=$(packaging/build-deb) || { echo "FAIL: packaging/build-deb" >&2; exit 1; }
fi
echo "static build: $((built - start))s; deb: $(($(date +%s) - built))s; $deb" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkgroot=$tmp/root
dpkg -x "$deb" "$pkgroot" || { echo "FAIL: dpkg -x $deb" >&2; exit 1; }
boxd=$pkgroot/usr/bin/boxd

# The binary runs and reports the project's version.
project_version=$(sed -nE 's/^project\(boxd VERSION ([^ )]+).*/\1/p' CMakeLists.txt)
if out=$("$boxd" version 2>&1) && [[ $out == *"$project_version"* ]]; then
  pass "boxd version: $out"
else
  fail "boxd version printed '$out' (want $project_version)"
fi

# Static, and runs with nothing else around it.
description=$(file -L "$boxd")
if [[ $description == *"statically linked"* ]]; then
  pass "file: statically linked"
else
  fail "file says: $description"
fi
jail=$tmp/jail
mkdir "$jail"
cp "$boxd" "$jail/boxd"
if out=$("${sudo[@]}" chroot "$jail" /boxd version 2>&1) && [[ $out == *"$project_version"* ]]; then
  pass "boxd version in an empty chroot: $out"
else
  fail "boxd version in an empty chroot: '$out'"
fi
if [[ $(find "$jail" -mindepth 1 | wc -l) != 1 ]]; then
  fail "the chroot was not empty apart from boxd: $(find "$jail" -mindepth 1)"
fi

# Control file: name, version from CMakeLists, amd64, no Depends.
control=$(dpkg-deb -f "$deb")
grep -qx 'Package: boxd' <<<"$control" || fail "control: Package is not boxd"
grep -qx "Version: $project_version" <<<"$control" || fail "control: Version is not $project_version"
grep -qx 'Architecture: amd64' <<<"$control" || fail "control: Architecture is not amd64"
grep -q '^Depends:' <<<"$control" && fail "control: a static binary needs no Depends"
grep -qx 'Recommends: e2fsprogs, iptables, mount' <<<"$control" ||
  fail "control: Recommends is not what boxd local serve runs (e2fsprogs, iptables, mount)"
[[ $failures == 0 ]] && pass "control file"

# The man page renders without warnings.
manpage=$pkgroot/usr/share/man/man1/boxd.1.gz
if [[ ! -f $manpage ]]; then
  fail "no $manpage"
else
  gzip -t "$manpage" || fail "$manpage is not gzip"
  warnings=$(MANWIDTH=80 man --warnings -l "$manpage" 2>&1 >/dev/null)
  rendered=$(MANWIDTH=80 man -l "$manpage" 2>/dev/null | wc -l)
  if [[ -n $warnings ]]; then
    fail "man --warnings: $warnings"
  elif ((rendered < 20)); then
    fail "the man page renders to only $rendered lines"
  else
    pass "man page: $rendered lines, no warnings"
  fi
fi

# Completions where the shells look; the bash one really completes.
bash_completion=$pkgroot/usr/share/bash-completion/completions/boxd
[[ -s $pkgroot/usr/share/zsh/vendor-completions/_boxd ]] || fail "no zsh completion"
[[ -s $pkgroot/usr/share/fish/vendor_completions.d/boxd.fish ]] || fail "no fish completion"
words=$(bash --norc -c 'source "$1"; COMP_WORDS=(boxd bo); COMP_CWORD=1; _boxd; echo ${COMPREPLY[*]}' \
  _ "$bash_completion" 2>&1)
if [[ $words == "box" ]]; then
  pass "bash completion: boxd bo -> $words"
else
  fail "bash completion of 'boxd bo' gave '$words' (want 'box')"
fi

# The systemd unit: valid, runs the packaged binary, shipped disabled.
unit=$pkgroot/usr/lib/systemd/system/boxd-local.service
if [[ ! -f $unit ]]; then
  fail "no $unit"
elif ! command -v systemd-analyze >/dev/null; then
  fail "systemd-analyze is missing (scripts/setup installs systemd)"
else
  mkdir -p "$tmp/unit" "$tmp/man/man1"
  cp "$manpage" "$tmp/man/man1/"
  sed "s|/usr/bin/boxd |$boxd |" "$unit" >"$tmp/unit/boxd-local.service"
  if ! grep -q '^ExecStart=/usr/bin/boxd local serve ' "$unit"; then
    fail "the unit does not run /usr/bin/boxd local serve"
  elif verify=$(MANPATH=$tmp/man systemd-analyze verify "$tmp/unit/boxd-local.service" 2>&1) &&
       [[ -z $verify ]]; then
    pass "systemd-analyze verify boxd-local.service"
  else
    fail "systemd-analyze verify boxd-local.service: $verify"
  fi
  if find "$pkgroot" -path '*.wants/*' | grep -q .; then
    fail "the .deb enables boxd-local.service (a .wants link)"
  fi
  dpkg-deb -e "$deb" "$tmp/control"
  if grep -qsE 'systemctl (enable|start)|deb-systemd' "$tmp/control/postinst"; then
    fail "postinst enables or starts boxd-local.service"
  fi
fi

# The packaged binary really works: three end-to-end suites (key exchange over
# libcurl, gRPC to a TLS-less and a TLS local server, boxes whose init is this
# binary).
for suite in test_auth test_exec_basic test_transport; do
  if BOXD_BIN=$boxd PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "tests/e2e/$suite.py" >"$tmp/$suite.log" 2>&1; then
    pass "e2e $suite with the packaged binary: $(tail -1 "$tmp/$suite.log")"
  else
    tail -30 "$tmp/$suite.log" >&2
    fail "e2e $suite with the packaged binary"
  fi
done

echo "packaging test: $failures failure(s) in $(($(date +%s) - start))s" >&2
((failures == 0))
