# What zsh's completion offers for a command line: zsh -f zsh-capture.zsh FPATH-DIR 'resmon mon' prints
# the candidates, one a line. An interactive zsh in a pseudo-terminal (zpty) with compinit, whose
# compadd prints what it is given (after zsh-capture-completion's way), types the line and a tab.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -r z line '*'
zpty -w z "fpath=(${(q)1} \$fpath)"
zpty -w z 'PROMPT=; RPROMPT=; unsetopt zle_bracketed_paste 2>/dev/null; autoload -U compinit; compinit -u -D'
zpty -w z 'null-line() { echo -E - $'"'"'\0'"'"' }; compprefuncs=(null-line); comppostfuncs=(null-line exit)'
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w z 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local h; for h in $__hits; do echo -E - "$h"; done; }'
zpty -w z "bindkey '^I' complete-word"
zpty -n -w z "$2"$'\t'
integer tog=0
while zpty -r z; do :; done | while IFS= read -r line; do
  if [[ $line == *$'\0\r' ]]; then (( tog++ )) && return 0 || continue; fi
  (( tog )) && echo -E - "${line%$'\r'}"
done
