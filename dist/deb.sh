#!/bin/sh
# make deb: resmon_VERSION_ARCH.deb in OUT, with dpkg-deb from what dist/install.sh lays out
# for Debian (PREFIX=/usr, the multiarch library directory, /lib/systemd/system), the
# maintainer scripts of dist/debian and the dependencies dpkg-shlibdeps finds (docs/INSTALL.md).
# usage: [BUILD=.build/release] [LIB_DIR=.build/lib] deb.sh OUT
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
here=$root/dist/debian
upstream=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' "$root/Sources/ResmonAPI/DefaultPaths.swift")
version=$upstream-1
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/resmon
mkdir -m 755 "$stage"

DEB=1 DESTDIR=$stage PREFIX=/usr LIBDIR=/usr/lib/$multiarch SYSTEMDUNITDIR=/lib/systemd/system \
  ZSHCOMPDIR=/usr/share/zsh/vendor-completions "$root/dist/install.sh"
# A package ships no static library and no development files beside the shared one (lintian:
# they belong in a -dev package); libresmon.a and resmon.pc are make install's.
rm -f "$stage/usr/lib/$multiarch/libresmon.a" "$stage/usr/lib/$multiarch/libresmon.so"
rm -rf "$stage/usr/lib/$multiarch/pkgconfig" "$stage/usr/include"

doc=$stage/usr/share/doc/resmon
install -m 644 "$here/copyright" "$doc/copyright"
sed -e "s|@VERSION@|$version|" -e "s|@DATE@|$(date -R -d "@$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)")|" \
  "$here/changelog" | gzip -9n >"$doc/changelog.Debian.gz"
chmod 644 "$doc/changelog.Debian.gz"

# Dependencies: what resmond, resmon and libresmon link (dpkg-shlibdeps reads the shlibs of
# the packages installed here), and libcurl4, which resmon (the client) and the sinks load.
mkdir -p "$work/shlibs/debian"
printf 'Source: resmon\n\nPackage: resmon\nArchitecture: any\n' >"$work/shlibs/debian/control"
binaries=$(cd "$stage" && find . -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'head -c 4 "$1" | grep -q ELF' _ {} \; -print | sed "s|^\.|$stage|")
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O $(for binary in $binaries; do printf -- '-e%s ' "$binary"; done) 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')

control=$stage/DEBIAN
mkdir -m 755 "$control"
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@DEPENDS@|$depends|" \
  -e "s|@SIZE@|$(du -sk --exclude=DEBIAN "$stage" | cut -f1)|" "$here/control.in" >"$control/control"
for script in postinst prerm postrm; do install -m 755 "$here/$script" "$control/$script"; done
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$control/conffiles"
if [ -f "$stage/usr/lib/$multiarch/libresmon.so.1" ]; then
  echo "libresmon 1 resmon (>= $upstream)" >"$control/shlibs"
  echo "activate-noawait ldconfig" >"$control/triggers"
fi
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) >"$control/md5sums"
chmod 644 "$control"/control "$control"/conffiles "$control"/md5sums "$control"/shlibs "$control"/triggers 2>/dev/null || true

mkdir -p "$out"
package=$out/resmon_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$package" >/dev/null
echo "$package"
