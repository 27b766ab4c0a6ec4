#!/bin/sh
# The classic entrypoint: what needs root happens first, then gosu steps
# down to the user. gosu does both steps here:
#   --chown=/data  gives the volume (which may come from the host owned by
#                  anyone) to app, safely: links are never followed, other
#                  mounts are not entered, only what is wrong is changed;
#   --init         keeps gosu as PID 1, a minimal init: it passes `podman
#                  stop`'s TERM on to the command (the kernel shields PID 1
#                  from signals it does not handle) and reaps zombies.
set -e
if [ "$(id -u)" = 0 ]; then
  exec gosu --init --chown=/data app "$@"
fi
# Started with --user already: nothing to fix, nothing to switch.
exec "$@"
