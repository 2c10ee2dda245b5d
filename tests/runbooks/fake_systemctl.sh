#!/bin/sh
# Stand-in for systemctl on the throwaway sshd test hosts, which have no systemd (test use only).
#
# Each sshd puts the directory holding this script first on the remote PATH and names a
# per-host state directory in OPSNB_FAKE_SYSTEMD (sshd_config SetEnv), so a runbook's
# plain `systemctl ...` lands here. State, all plain files under $OPSNB_FAKE_SYSTEMD:
#   calls                      every invocation, one line, arguments separated by spaces
#   units/UNIT                 the unit's state: active, inactive, failed (absent: not found)
#   units/UNIT.after-restart   the state a restart leaves (default active; "failed" = crashes)
#   units/UNIT.restart-exit    the exit status of restart (default 0)
#   units/UNIT.restarts        how many restarts happened
set -u
dir=${OPSNB_FAKE_SYSTEMD:?OPSNB_FAKE_SYSTEMD is not set}
printf '%s\n' "$*" >> "$dir/calls"
verb=""
unit=""
for a in "$@"; do
    case $a in
        -*) ;;  # options (--quiet, --no-pager) change nothing here
        *) if [ -z "$verb" ]; then verb=$a; elif [ -z "$unit" ]; then unit=$a; fi ;;
    esac
done
case $unit in
    "" | */* | .*) echo "systemctl (stand-in): expected a unit name, got '$unit'" >&2; exit 2 ;;
esac
f=$dir/units/$unit
state=inactive
[ -f "$f" ] && state=$(cat "$f")
case $verb in
    is-active)
        echo "$state"
        [ "$state" = active ] && exit 0
        exit 3 ;;
    status)
        echo "* $unit - stand-in unit"
        echo "     Active: $state"
        [ "$state" = active ] && exit 0
        [ -f "$f" ] || exit 4
        exit 3 ;;
    restart | start | stop)
        if [ ! -f "$f" ]; then
            echo "Failed to $verb $unit.service: Unit $unit.service not found." >&2
            exit 5
        fi
        n=0
        [ -f "$f.restarts" ] && n=$(cat "$f.restarts")
        echo $((n + 1)) > "$f.restarts"
        if [ "$verb" = stop ]; then echo inactive > "$f"; exit 0; fi
        after=active
        [ -f "$f.after-restart" ] && after=$(cat "$f.after-restart")
        echo "$after" > "$f"
        code=0
        [ -f "$f.restart-exit" ] && code=$(cat "$f.restart-exit")
        if [ "$code" != 0 ]; then
            echo "Job for $unit.service failed because the control process exited with error code." >&2
            echo "See \"systemctl status $unit.service\" and \"journalctl -xeu $unit.service\" for details." >&2
        fi
        exit "$code" ;;
    *)
        echo "Unknown command verb $verb." >&2
        exit 1 ;;
esac
