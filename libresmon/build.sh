#!/bin/sh
# Links libresmon from the objects `swift build` made (CONFIG: debug or release) into OUT:
#   libresmon.so.1 (+ the libresmon.so link), with the Swift runtime linked statically and only
#   resmon_* exported (resmon.map); libresmon.a, one relocatable object holding the same code and
#   runtime with every symbol but resmon_* made local; include/resmon.h; resmon.pc for the tree.
# usage: build.sh PACKAGE_ROOT CONFIG OUT
set -eu
root=$1 config=$2 out=$3
case $config in
  debug | release) ;;
  *) echo "build.sh: CONFIG is debug or release, not \"$config\"" >&2; exit 64 ;;
esac
build=$root/.build/$config
here=$root/libresmon
swiftc=$(command -v swiftc)
static=$(dirname "$(dirname "$(readlink -f "$swiftc")")")/lib/swift_static/linux
# The targets libresmon is made of, bottom to top (Package.swift's Libresmon and its dependencies).
objects=""
# The object of each source file there is now (a build directory can hold objects of files
# since removed).
for target in Libresmon CResmon Monitoring Events Statistics Storage ResmonSystem CRE2 CSystem ResmonClient ResmonAPI HTTPClient CCurlShim; do
  for source in $(cd "$root/Sources/$target" && find . -name '*.swift' -o -name '*.c' -o -name '*.cc' | sort); do
    object="$build/$target.build/${source#./}.o"
    [ -e "$object" ] || { echo "build.sh: $object is missing: run swift build --target Libresmon" >&2; exit 1; }
    objects="$objects $object"
  done
done
mkdir -p "$out/include"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Inline monitors are the Monitoring engine's code, which brings its modules and their C
# libraries (SQLite for Storage, RE2 for ResmonSystem's regular expressions) with it.
# The shared library: -z defs makes a missing runtime library an error here, not in the consumer.
swiftc -emit-library -static-stdlib -o "$work/libresmon.so.1" $objects \
  -l_FoundationCollections -l_FoundationCShims -lsqlite3 -lre2 -ldl \
  -Xlinker -z -Xlinker defs -Xlinker --gc-sections -Xlinker -soname=libresmon.so.1 \
  -Xlinker --version-script="$here/resmon.map" 2>"$work/link.log" || { cat "$work/link.log" >&2; exit 1; }
grep -v "mktemp" "$work/link.log" >&2 || true
objcopy --strip-all "$work/libresmon.so.1" "$out/libresmon.so.1"
ln -sf libresmon.so.1 "$out/libresmon.so"

# The static library: the objects and the runtime archives' members they need, in one object.
runtime=""
for library in swiftSwiftOnoneSupport swiftCore swift_Concurrency swift_StringProcessing swift_RegexParser swiftSynchronization \
  swiftGlibc swiftDispatch FoundationEssentials _FoundationCShims _FoundationCollections dispatch BlocksRuntime; do
  [ -e "$static/lib$library.a" ] && runtime="$runtime $static/lib$library.a"
done
ld -r -o "$work/all.o" "$static/x86_64/swiftrt.o" $objects --start-group $runtime --end-group
nm -g --defined-only "$work/all.o" | awk '$3 ~ /^resmon_/ { print $3 }' >"$work/exports"
objcopy --strip-debug --keep-global-symbols="$work/exports" "$work/all.o" "$work/resmon.o"
rm -f "$out/libresmon.a"
ar rcs "$out/libresmon.a" "$work/resmon.o"

cp "$root/Sources/CResmon/include/resmon.h" "$out/include/"
cp "$here/resmon.hpp" "$out/include/"
sed -e "s|@LIBDIR@|$out|" -e "s|@INCLUDEDIR@|$out/include|" "$here/resmon.pc.in" >"$out/resmon.pc"
echo "libresmon: $out/libresmon.so.1 $out/libresmon.a $out/resmon.pc"
