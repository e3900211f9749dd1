#!/bin/sh
# An exec plug-in: resmond runs it every interval and reads Prometheus text from its output.
# Declare it in subsystems.d/queue.json:
#   {"kind": "exec", "command": ["/usr/local/lib/resmon/exec-queue-depth.sh"], "interval": 10, "timeout": 5}
# Its statistics are then queue:_:mail_queue_messages and queue:_:mail_queue_oldest_seconds.
set -eu
spool=${SPOOL:-/var/spool/postfix/deferred}
count=$(find "$spool" -type f 2>/dev/null | wc -l)
oldest=0
if [ "$count" -gt 0 ]; then
    now=$(date +%s)
    first=$(find "$spool" -type f -printf '%T@\n' 2>/dev/null | sort -n | head -1 | cut -d. -f1)
    oldest=$((now - first))
fi
echo '# HELP mail_queue_messages Messages waiting in the deferred queue.'
echo '# TYPE mail_queue_messages gauge'
echo "mail_queue_messages $count"
echo '# HELP mail_queue_oldest_seconds Age of the oldest deferred message.'
echo '# TYPE mail_queue_oldest_seconds gauge'
echo "mail_queue_oldest_seconds $oldest"
