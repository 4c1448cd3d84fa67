#!/usr/bin/env bash
# A JACK server on the dummy driver with one loopback port pair, for callaudio's real-audio
# tests on machines with no sound card (start it before Python imports sounddevice: PortAudio
# scans its host APIs once, at initialisation; stop it only after that process has exited).
#
#   scripts/jack-server.sh start  NAME   install libportaudio2 + jackd2 if missing, start, wait
#   scripts/jack-server.sh stop   NAME   SIGTERM, wait for exit (SIGKILL + shm cleanup after 10 s)
#   scripts/jack-server.sh status NAME   exit 0 when the server answers, 1 otherwise
#
# PortAudio then lists a device `loopback` (JACK host API, 1 in / 1 out): what is played on it
# comes back on its input after exactly 2 periods.
#
# Stop the server only after the process that used it has exited (pitfall 2: libportaudio
# 19.6 aborts at exit otherwise); scripts/with-jack.sh does that for a command.
#
# Environment: JACK_RATE (default 48000), JACK_PERIOD (default 480 frames),
# JACK_STATE_DIR (pid and log files, default ${TMPDIR:-/tmp}), JACK_RT_PRIORITY (default 20;
# 0 = off): once the server answers, its threads are moved to SCHED_FIFO at this priority
# when the system allows it (best effort; the server itself runs with -r, no realtime
# request). On a loaded machine the dummy driver's timer thread is otherwise late by a few
# hundred microseconds now and then, and every late cycle is an xrun for every client.
set -euo pipefail

export JACK_NO_START_SERVER=1
# ldconfig, and dpkg under apt-get, live in the sbin folders, which a minimal PATH (CI,
# `env -i`) leaves out.
export PATH="$PATH:/usr/sbin:/sbin"

RATE="${JACK_RATE:-48000}"
RT_PRIORITY="${JACK_RT_PRIORITY:-20}"
PERIOD="${JACK_PERIOD:-480}"
STATE_DIR="${JACK_STATE_DIR:-${TMPDIR:-/tmp}}"

usage() {
    echo "usage: $0 start|stop|status NAME" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
CMD="$1"
NAME="$2"
[[ "$NAME" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "jack-server: bad server name '$NAME'" >&2; exit 2; }

PIDFILE="$STATE_DIR/callaudio-jack-$NAME.pid"
LOGFILE="$STATE_DIR/callaudio-jack-$NAME.log"

log() { echo "jack-server[$NAME]: $*" >&2; }

have_packages() {
    command -v jackd >/dev/null 2>&1 && command -v jack_lsp >/dev/null 2>&1 \
        && [[ -n "$(ldconfig -p 2>/dev/null | grep 'libportaudio\.so\.2')" ]]
}

install_packages() {
    have_packages && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        log "jackd/libportaudio2 missing and no apt-get: install JACK 2 and PortAudio by hand"
        return 1
    fi
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { log "need root (or sudo) to install jackd2"; return 1; }
        sudo=(sudo -n)
    fi
    log "installing libportaudio2 jackd2 (apt-get)"
    local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends libportaudio2 jackd2)
    if ! "${install[@]}" >&2; then
        log "install failed; running apt-get update and retrying"
        "${sudo[@]}" apt-get update -q >&2
        "${install[@]}" >&2
    fi
    have_packages || { log "jackd2/libportaudio2 still missing after install"; return 1; }
}

is_up() {
    timeout 5 jack_lsp -s "$NAME" >/dev/null 2>&1
}

our_pid() {
    # The pid recorded at start, if that process is still a jackd.
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid=$(<"$PIDFILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "jackd" ]] || return 1
    echo "$pid"
}

remove_stale_shm() {
    # Pitfall 3: a jackd killed with SIGKILL leaves /dev/shm/jack_NAME_UID_0 behind and the
    # next start fails with "server already active". Only called when no server answers.
    local f
    for f in /dev/shm/jack_"${NAME}"_* /dev/shm/jack_sem.*_"${NAME}"_*; do
        [[ -e "$f" ]] || continue
        log "removing stale $f"
        rm -f -- "$f"
    done
}

start() {
    install_packages
    if is_up; then
        log "a server named '$NAME' is already running"
        return 1
    fi
    if pid=$(our_pid); then
        log "stale jackd $pid from an earlier start does not answer; stopping it"
        stop_pid "$pid"
    fi
    remove_stale_shm
    mkdir -p "$STATE_DIR"
    # Server options before -d, driver options after (-r means different things on each side):
    # -r no realtime scheduling, -p 64 max ports (small shm segment), -L 1 one loopback pair.
    setsid jackd -r -n "$NAME" -p 64 -L 1 -d dummy -r "$RATE" -p "$PERIOD" -C 1 -P 1 \
        >"$LOGFILE" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PIDFILE"
    local i
    for ((i = 0; i < 200; i++)); do # up to 10 s; ready after about 0.15 s
        if is_up; then
            log "ready (pid $pid, ${RATE} Hz, period ${PERIOD}$(raise_priority "$pid"))"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "jackd exited during start-up; its log:"
            cat "$LOGFILE" >&2
            rm -f "$PIDFILE"
            return 1
        fi
        sleep 0.05
    done
    log "jackd did not answer within 10 s; its log:"
    cat "$LOGFILE" >&2
    stop_pid "$pid"
    return 1
}

raise_priority() {
    # Best effort: SCHED_FIFO for every thread of the server; prints what it did.
    local pid="$1" task n=0
    [[ "$RT_PRIORITY" =~ ^[0-9]+$ ]] && [[ "$RT_PRIORITY" -gt 0 ]] || return 0
    command -v chrt >/dev/null 2>&1 || { echo ", no chrt: normal priority"; return 0; }
    for task in /proc/"$pid"/task/*; do
        chrt -f -p "$RT_PRIORITY" "${task##*/}" >/dev/null 2>&1 && n=$((n + 1))
    done
    if [[ $n -gt 0 ]]; then
        echo ", SCHED_FIFO $RT_PRIORITY on $n threads"
    else
        echo ", SCHED_FIFO refused: normal priority"
    fi
}

stop_pid() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # up to 10 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "jackd $pid ignored SIGTERM for 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
        remove_stale_shm
    fi
    rm -f "$PIDFILE"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        if is_up; then
            log "server '$NAME' was not started by this script; not stopping it"
            return 1
        fi
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    stop_pid "$pid"
    log "stopped"
}

case "$CMD" in
    start) start ;;
    stop) stop ;;
    status)
        if is_up; then
            echo "running"
        else
            echo "stopped"
            exit 1
        fi
        ;;
    *) usage ;;
esac
