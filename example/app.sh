#!/bin/sh
# Stands for the real program: says who it runs as (the kernel's view),
# writes into the volume, and then serves until it is stopped.
echo "app: $(id), pid $$"
grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff):' /proc/self/status
echo "written by $(id -un)" >/data/hello
echo ready
exec sleep 1000000
