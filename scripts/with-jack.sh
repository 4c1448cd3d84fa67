#!/usr/bin/env bash
# Run a command with a private JACK loopback server (for callaudio's real-audio tests).
#
#   scripts/with-jack.sh [--name NAME] [--] COMMAND [ARGS...]
#
# Starts `scripts/jack-server.sh start NAME` (installing libportaudio2 + jackd2 when missing),
# runs COMMAND with JACK_DEFAULT_SERVER=NAME and JACK_NO_START_SERVER=1 exported, stops the
# server after COMMAND has exited (never before: libportaudio 19.6 aborts at exit, status 134,
# when the server went away under it) and exits with COMMAND's exit status.
#
# NAME defaults to $CALLAUDIO_JACK_NAME or `callaudio-<pid>`: a server per invocation, so two
# test runs on one machine never mix their signals in one loopback (pitfall 4).
#
# When the server cannot be started the command still runs, without JACK_DEFAULT_SERVER:
# real-audio tests then fail when CI=true and are skipped otherwise.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="${CALLAUDIO_JACK_NAME:-callaudio-$$}"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --name) NAME="$2"; shift 2 ;;
        --name=*) NAME="${1#--name=}"; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--name NAME] [--] COMMAND [ARGS...]" >&2; exit 2; }

export JACK_NO_START_SERVER=1
started=0
if "$HERE/jack-server.sh" start "$NAME"; then
    started=1
    export JACK_DEFAULT_SERVER="$NAME"
else
    echo "with-jack: could not start the JACK server '$NAME'; real-audio tests will fail" \
        "(CI=true) or be skipped" >&2
fi

stop_server() {
    if [[ $started -eq 1 ]]; then
        started=0
        "$HERE/jack-server.sh" stop "$NAME" || true
    fi
}
# Also stop it when this script is itself terminated (after the child has been waited for).
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$@"
rc=$?
stop_server
exit "$rc"
