#!/bin/sh
# Stand-in deploy command for the rollback tests: "deploys" SERVICE at VERSION by switching a version file
# in $OPSNB_FAKE_DEPLOY (set per sshd host by its sshd_config), and logs its arguments, one per line.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: deploy-stub SERVICE VERSION" >&2
    exit 64
fi
dir="${OPSNB_FAKE_DEPLOY:?OPSNB_FAKE_DEPLOY is not set}"
if [ -e "$dir/fail" ]; then
    echo "deploy-stub: artifact $2 not found" >&2
    exit 3
fi
printf '%s\n' "$@" >> "$dir/calls"
printf '%s\n' "$2" > "$dir/$1.version.tmp"
mv "$dir/$1.version.tmp" "$dir/$1.version"
echo "$1 now at $2"
