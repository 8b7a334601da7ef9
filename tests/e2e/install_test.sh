#!/usr/bin/env bash
# `cmake --install` into a temporary DESTDIR: the layout (binary, man page, bash and zsh
# completions, systemd unit, serve.toml, the unit's env file, docs), the installed binary's
# --version, the completions and man page generated from --help (they know `fit`), the shipped
# serve.toml parses, and the unit passes `systemd-analyze verify` (skipped where absent).
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR]
set -euo pipefail
GEMRUN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
B=$(dirname "$GEMRUN")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$B/CMakeCache.txt" ] || { echo "SKIP: $B is not a CMake build directory"; exit 0; }
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$B/CMakeCache.txt")
SYSCONF=/etc; [ "$PREFIX" = /usr ] || SYSCONF=$PREFIX/etc
VERSION=$("$GEMRUN" --version | awk '{print $2}')
# The man page and completions are an ALL target; a build of only `gemrun` lacks them:
# generate them the same way (no second build tool in this build directory).
G=$B/generated/packaging
[ -s "$G/gemrun.1" ] && [ "$G/gemrun.1" -nt "$GEMRUN" ] || sh "$SRC/packaging/gen_docs.sh" "$GEMRUN" "$G" "$VERSION"

DESTDIR=$T/root cmake --install "$B" > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "cmake --install"; }
R=$T/root
for f in "$PREFIX/bin/gemrun" "$PREFIX/share/man/man1/gemrun.1" "$PREFIX/share/bash-completion/completions/gemrun" \
         "$PREFIX/share/zsh/vendor-completions/_gemrun" "$PREFIX/lib/systemd/system/gemrun.service" \
         "$SYSCONF/gemrun/serve.toml" "$SYSCONF/default/gemrun" "$PREFIX/share/doc/gemrun/install.md"; do
  [ -f "$R$f" ] || { find "$R" -type f; fail "missing $f"; }
done
[ -x "$R$PREFIX/bin/gemrun" ] || fail "the installed binary is not executable"
# Nothing but the application: no static libraries or headers of the layers.
! find "$R" -name '*.a' -o -name '*.h' | grep -q . || fail "libraries or headers installed"
out=$("$R$PREFIX/bin/gemrun" --version) || fail "installed gemrun --version"
[[ $out =~ ^gemrun\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$out'"

# Man page: roff with every command's section.
grep -q '^\.TH GEMRUN 1' "$R$PREFIX/share/man/man1/gemrun.1" || fail "man page header"
for c in run serve fit pull; do grep -q "^\.SS gemrun $c\$" "$R$PREFIX/share/man/man1/gemrun.1" || fail "man page lacks $c"; done
if command -v groff >/dev/null; then
  # As man renders it: preconv (the texts are UTF-8), then groff with all warnings.
  preconv -e utf-8 "$R$PREFIX/share/man/man1/gemrun.1" | groff -man -Tutf8 -ww > "$T/man.txt" 2> "$T/groff.err" ||
    fail "groff"
  [ ! -s "$T/groff.err" ] || { cat "$T/groff.err"; fail "groff warnings"; }
  grep -q -- "--no-fit-check" "$T/man.txt" || fail "rendered man page lacks --no-fit-check"
fi

# bash completion: commands, then a command's options.
comp() { bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _gemrun; echo "${COMPREPLY[*]}"' _ \
  "$R$PREFIX/share/bash-completion/completions/gemrun" "$@"; }
[[ " $(comp gemrun fi) " == *" fit "* ]] || fail "bash completion of 'gemrun fi': $(comp gemrun fi)"
[[ " $(comp gemrun fit --kv) " == *" --kv-type "* ]] || fail "bash completion of 'gemrun fit --kv'"
[[ " $(comp gemrun serve --con) " == *" --config "* ]] || fail "bash completion of 'gemrun serve --con'"
if command -v zsh >/dev/null; then zsh -n "$R$PREFIX/share/zsh/vendor-completions/_gemrun" || fail "zsh syntax"; fi
grep -q "fit:" "$R$PREFIX/share/zsh/vendor-completions/_gemrun" || fail "zsh completion lacks fit"

# The shipped serve.toml parses (all commented: the model must still be given).
rc=0; "$R$PREFIX/bin/gemrun" serve --config "$R$SYSCONF/gemrun/serve.toml" 2> "$T/serve.err" || rc=$?
[ "$rc" = 1 ] && grep -q -- "--model is required" "$T/serve.err" || { cat "$T/serve.err"; fail "shipped serve.toml"; }

# The unit: hardening present, paths of this prefix, and systemd's own check.
U=$R$PREFIX/lib/systemd/system/gemrun.service
for d in DynamicUser=yes ProtectSystem=strict StateDirectory=gemrun NoNewPrivileges=yes PrivateTmp=yes \
         RestrictAddressFamilies= MemoryDenyWriteExecute=yes "ExecStart=$PREFIX/bin/gemrun serve --config $SYSCONF/gemrun/serve.toml" \
         "EnvironmentFile=-$SYSCONF/default/gemrun"; do
  grep -qF -- "$d" "$U" || fail "unit lacks $d"
done
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart's binary to exist: point it at the installed one.
  sed "s|^ExecStart=$PREFIX/bin/gemrun|ExecStart=$R$PREFIX/bin/gemrun|" "$U" > "$T/gemrun.service"
  # and Documentation=man:gemrun(1) is looked up with man: in the installed tree.
  MANPATH=$R$PREFIX/share/man systemd-analyze verify "$T/gemrun.service" > "$T/verify.log" 2>&1 ||
    { cat "$T/verify.log"; fail "systemd-analyze verify"; }
  ! grep -q "gemrun.service" "$T/verify.log" || { cat "$T/verify.log"; fail "systemd-analyze verify warns"; }
else
  echo "note: systemd-analyze not installed; unit verification skipped"
fi
echo "install e2e: ok"
