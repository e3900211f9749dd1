#!/bin/sh
# A textfile plug-in's writer: a backup job records how it went in a .prom file, the way
# node_exporter's textfile collector expects: written to a temporary name, then renamed, so a
# reader never sees it half-written (resmond also re-reads a file that changed while it read).
# Declare the directory in subsystems.d/backup.json:
#   {"kind": "textfile", "path": "/var/lib/resmon/textfile", "interval": 60}
# Its statistics: backup:job=home:backup_last_success_timestamp_seconds and …:backup_bytes_total.
set -eu
dir=/var/lib/resmon/textfile
mkdir -p "$dir"
tmp="$dir/.backup.prom.$$"
{
    echo '# TYPE backup_last_success_timestamp_seconds gauge'
    echo "backup_last_success_timestamp_seconds{job=\"home\"} $(date +%s)"
    echo '# TYPE backup_bytes_total counter'
    echo "backup_bytes_total{job=\"home\"} ${BYTES:-0}"
} > "$tmp"
mv "$tmp" "$dir/backup.prom"
