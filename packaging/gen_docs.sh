#!/bin/sh
# Generates the man page gemrun.1 and the bash / zsh completions from the CLI's own --help
# (gemrun --help lists the commands; gemrun CMD --help lists each one's options), so they
# cannot drift from the binary. POSIX sh, sed and awk only (Debian essential packages).
# usage: gen_docs.sh GEMRUN OUT_DIR VERSION
set -eu
gemrun=$1 out=$2 version=$3
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$gemrun" --help >"$tmp/main.txt"
# "  run        generate an answer ..." lines after "commands:".
awk '/^commands:/{on=1; next} on && /^$/{exit} on && /^  [a-z]/{print $1}' "$tmp/main.txt" >"$tmp/cmds"
[ -s "$tmp/cmds" ] || { echo "gen_docs.sh: no commands in '$gemrun --help'" >&2; exit 1; }
for c in $(cat "$tmp/cmds"); do
  "$gemrun" "$c" --help >"$tmp/help.$c" 2>&1 || true
  # Option words: leading "-x,--long" / "--long" of CLI11's option lines.
  awk '/^ +-/{n=split($1, a, ","); for (i = 1; i <= n; i++) if (a[i] ~ /^-/) print a[i]}' "$tmp/help.$c" |
    sort -u | tr '\n' ' ' >"$tmp/opts.$c"
done

# --- man page: roff-escaped help texts (backslashes; lines starting with . or ').
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
{
  printf '.\\" -*- coding: UTF-8 -*-\n'  # the help texts have UTF-8 (man runs preconv)
  printf '.TH GEMRUN 1 "" "gemrun %s" "User Commands"\n' "$version"
  printf '.SH NAME\ngemrun \\- run Gemma 3 / Gemma 4 GGUF models locally on the CPU\n'
  printf '.SH SYNOPSIS\n.B gemrun\n.I command\n[\\fIoptions\\fR]\n'
  printf '.SH DESCRIPTION\n.nf\n'
  esc <"$tmp/main.txt"
  printf '.fi\n.SH COMMANDS\n'
  for c in $(cat "$tmp/cmds"); do
    printf '.SS gemrun %s\n.nf\n' "$c"
    esc <"$tmp/help.$c"
    printf '.fi\n'
  done
  printf '.SH FILES\n.TP\n/etc/gemrun/serve.toml\noptions of \\fBgemrun serve\\fR (key = value; see \\fBgemrun serve \\-\\-help\\fR)\n'
  printf '.TP\n/etc/default/gemrun\nenvironment of the gemrun.service unit\n'
  printf '.TP\n/var/lib/gemrun\nthe model store of the service (GEMRUN_HOME)\n'
  printf '.SH SEE ALSO\nsystemctl(1), https://github.com/ (docs/install.md in the source)\n'
} >"$out/gemrun.1"

# --- bash completion.
{
  printf '# bash completion for gemrun %s (generated from gemrun --help)\n' "$version"
  printf '_gemrun() {\n  local cur=${COMP_WORDS[COMP_CWORD]} opts=\n'
  printf '  if [ "$COMP_CWORD" -eq 1 ]; then\n'
  printf '    COMPREPLY=($(compgen -W "%s --help --version" -- "$cur")); return\n  fi\n' "$(tr '\n' ' ' <"$tmp/cmds")"
  printf '  case ${COMP_WORDS[1]} in\n'
  for c in $(cat "$tmp/cmds"); do printf '    %s) opts="%s" ;;\n' "$c" "$(cat "$tmp/opts.$c")"; done
  printf '  esac\n'
  printf '  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi\n'
  printf '}\ncomplete -o filenames -F _gemrun gemrun\n'
} >"$out/gemrun.bash"

# --- zsh completion.
{
  printf '#compdef gemrun\n# zsh completion for gemrun %s (generated from gemrun --help)\n' "$version"
  printf '_gemrun() {\n  local -a cmds opts\n  cmds=(\n'
  awk '/^commands:/{on=1; next} on && /^$/{exit} on && /^  [a-z]/{c=$1; $1=""; sub(/^ +/, ""); gsub(/\x27/, "\x27\\\x27\x27"); gsub(/:/, "\\:"); printf "    \x27%s:%s\x27\n", c, $0}' "$tmp/main.txt"
  printf '  )\n  if (( CURRENT == 2 )); then _describe command cmds; return; fi\n  case $words[2] in\n'
  for c in $(cat "$tmp/cmds"); do printf '    %s) opts=(%s) ;;\n' "$c" "$(cat "$tmp/opts.$c")"; done
  printf '  esac\n  if [[ $PREFIX == -* ]]; then compadd -- $opts; else _files; fi\n}\n_gemrun "$@"\n'
} >"$out/_gemrun"
