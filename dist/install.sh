#!/bin/sh
# make install / make uninstall (docs/INSTALL.md): lays resmon out under DESTDIR+PREFIX and
# records every file and every directory it made in PREFIX/share/resmon/installed-files, which
# `install.sh --uninstall` reads to remove exactly those (directories only when empty).
# usage: [VARIABLE=value ...] install.sh [--uninstall]
#   BUILD: where resmond and resmon are (.build/release); LIB_DIR: libresmon (.build/lib,
#   skipped when absent); DEB=1: the Debian layout (gzipped man pages, stripped programs, no
#   record: dpkg keeps it).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
BINDIR=${BINDIR:-$PREFIX/bin}
SBINDIR=${SBINDIR:-$PREFIX/sbin}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
MANDIR=${MANDIR:-$PREFIX/share/man}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/resmon}
SYSCONFDIR=${SYSCONFDIR:-/etc}
SYSTEMDUNITDIR=${SYSTEMDUNITDIR:-$PREFIX/lib/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-$PREFIX/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-$PREFIX/lib/tmpfiles.d}
BASHCOMPDIR=${BASHCOMPDIR:-$PREFIX/share/bash-completion/completions}
ZSHCOMPDIR=${ZSHCOMPDIR:-$PREFIX/share/zsh/site-functions}
FISHCOMPDIR=${FISHCOMPDIR:-$PREFIX/share/fish/vendor_completions.d}
BUILD=${BUILD:-$root/.build/release}
LIB_DIR=${LIB_DIR:-$root/.build/lib}
DEB=${DEB:-}
record=$PREFIX/share/resmon/installed-files

if [ "${1:-}" = "--uninstall" ]; then
  [ -f "$DESTDIR$record" ] || { echo "install.sh: $DESTDIR$record is missing: nothing installed there" >&2; exit 1; }
  # Files first, then directories deepest first, each only when empty (another package's
  # file keeps it).
  made=$(grep '^d ' "$DESTDIR$record.dirs" 2>/dev/null | cut -c3- | sort -r || true)
  grep '^f ' "$DESTDIR$record" | cut -c3- | while IFS= read -r path; do rm -f "$DESTDIR$path"; done
  rm -f "$DESTDIR$record" "$DESTDIR$record.dirs"
  echo "$made" | while IFS= read -r path; do
    if [ -n "$path" ]; then rmdir "$DESTDIR$path" 2>/dev/null || true; fi
  done
  echo "resmon removed from $DESTDIR$PREFIX"
  exit 0
fi

for program in resmond resmon; do
  [ -x "$BUILD/$program" ] || { echo "install.sh: $BUILD/$program is missing: build it first (make install does)" >&2; exit 1; }
done
# DESTDIR itself is the caller's: made when missing, never recorded nor removed.
if [ -n "$DESTDIR" ]; then mkdir -p "$DESTDIR"; fi
files=$(mktemp) dirs=$(mktemp) work=$(mktemp -d)
trap 'rm -rf "$files" "$dirs" "$work"' EXIT

# directory PATH: makes it (and its parents), recording each one it made.
directory() {
  missing=""
  path=$1
  while [ "$path" != / ] && [ ! -d "$DESTDIR$path" ]; do missing="$path $missing"; path=$(dirname "$path"); done
  for made in $missing; do mkdir -m 755 "$DESTDIR$made" && echo "d $made" >>"$dirs"; done
}
# put MODE SOURCE TARGET: installs a file (TARGET is the full path).
put() {
  directory "$(dirname "$3")"
  install -m "$1" "$2" "$DESTDIR$3"
  echo "f $3" >>"$files"
}
# link TARGET NAME: a symbolic link NAME -> TARGET.
link() {
  directory "$(dirname "$2")"
  ln -sfn "$1" "$DESTDIR$2"
  echo "f $2" >>"$files"
}
# manual PAGE: into its section's directory (gzipped for Debian).
manual() {
  name=$(basename "$1")
  section=${name##*.}
  if [ -n "$DEB" ]; then
    gzip -9n <"$1" >"$work/$name.gz"
    put 644 "$work/$name.gz" "$MANDIR/man$section/$name.gz"
  else
    put 644 "$1" "$MANDIR/man$section/$name"
  fi
}

# The programs.
put 755 "$BUILD/resmond" "$SBINDIR/resmond"
put 755 "$BUILD/resmon" "$BINDIR/resmon"
if [ -n "$DEB" ]; then strip --strip-unneeded --remove-section=.comment --remove-section=.note "$DESTDIR$SBINDIR/resmond" "$DESTDIR$BINDIR/resmon"; fi

# libresmon (make lib), when built.
if [ -f "$LIB_DIR/libresmon.so.1" ]; then
  put 644 "$LIB_DIR/libresmon.so.1" "$LIBDIR/libresmon.so.1"
  link libresmon.so.1 "$LIBDIR/libresmon.so"
  put 644 "$LIB_DIR/libresmon.a" "$LIBDIR/libresmon.a"
  put 644 "$root/Sources/CResmon/include/resmon.h" "$INCLUDEDIR/resmon.h"
  put 644 "$root/libresmon/resmon.hpp" "$INCLUDEDIR/resmon.hpp"
  sed -e "s|@LIBDIR@|$LIBDIR|" -e "s|@INCLUDEDIR@|$INCLUDEDIR|" "$root/libresmon/resmon.pc.in" >"$work/resmon.pc"
  put 644 "$work/resmon.pc" "$LIBDIR/pkgconfig/resmon.pc"
fi

# The man pages: dist/man's (rendered by `make man`) and any in .build/man (a later one wins
# over one of the same name); the library's resmon(3) only with the library.
mkdir "$work/man"
for page in "$root"/dist/man/*.[1-8] "$root"/.build/man/*.[1-8]; do
  if [ ! -f "$page" ]; then continue; fi
  if [ "${page##*/}" = resmon.3 ] && [ ! -f "$LIB_DIR/libresmon.so.1" ]; then continue; fi
  cp "$page" "$work/man/"
done
for page in "$work"/man/*; do
  if [ -f "$page" ]; then manual "$page"; fi
done

# systemd: the unit on these paths, the user and group, the runtime files.
sed -e "s|/usr/sbin/resmond|$SBINDIR/resmond|" -e "s|--config-dir /etc/resmon|--config-dir $SYSCONFDIR/resmon|" \
  "$root/dist/systemd/resmond.service" >"$work/resmond.service"
put 644 "$work/resmond.service" "$SYSTEMDUNITDIR/resmond.service"
if [ -f "$root/dist/systemd/resmond.socket" ]; then put 644 "$root/dist/systemd/resmond.socket" "$SYSTEMDUNITDIR/resmond.socket"; fi
put 644 "$root/dist/sysusers.d/resmon.conf" "$SYSUSERSDIR/resmon.conf"
if [ -f "$root/dist/tmpfiles.d/resmon.conf" ]; then put 644 "$root/dist/tmpfiles.d/resmon.conf" "$TMPFILESDIR/resmon.conf"; fi

# Completions, when made.
if [ -f "$root/dist/completion/resmon.bash" ]; then put 644 "$root/dist/completion/resmon.bash" "$BASHCOMPDIR/resmon"; fi
if [ -f "$root/dist/completion/_resmon" ]; then put 644 "$root/dist/completion/_resmon" "$ZSHCOMPDIR/_resmon"; fi
if [ -f "$root/dist/completion/resmon.fish" ]; then put 644 "$root/dist/completion/resmon.fish" "$FISHCOMPDIR/resmon.fish"; fi

# The example plug-ins, monitors and C programs.
(cd "$root" && find examples -type f | sort) | while IFS= read -r example; do
  case $example in *.sh) mode=755 ;; *) mode=644 ;; esac
  put "$mode" "$root/$example" "$DOCDIR/$example"
done

# The configuration directory. The unit's resmond (user resmon) cannot write it, so the
# default monitors it would write at its first start are laid here, as this resmond writes
# them; an existing defaults.json (edited, or removed on purpose) is left as it is.
directory "$SYSCONFDIR/resmon/subsystems.d"
directory "$SYSCONFDIR/resmon/monitors.d"
if [ ! -e "$DESTDIR$SYSCONFDIR/resmon/monitors.d/defaults.json" ] && [ ! -e "$DESTDIR/var/lib/resmon/defaults-written" ]; then
  "$BUILD/resmond" --state-dir "$work/state" --config-dir "$work/config" --listen none --step 1 --cycles 1 2>"$work/log" \
    || { cat "$work/log" >&2; exit 1; }
  put 644 "$work/config/monitors.d/defaults.json" "$SYSCONFDIR/resmon/monitors.d/defaults.json"
fi

if [ -z "$DEB" ]; then
  directory "$PREFIX/share/resmon"
  cp "$files" "$DESTDIR$record"
  cp "$dirs" "$DESTDIR$record.dirs"
  echo "resmon installed under $DESTDIR$PREFIX ($(wc -l <"$files") files; make uninstall removes them)"
fi
