"""One VoiceProcessor used from several threads (the threading contract of VoiceProcessor).

Every scenario runs in a subprocess with a timeout: a crash (SIGSEGV in the compiled chain)
or a deadlock fails its test instead of killing or hanging the run. The scenarios use a
deterministic amount of work (frame counts), never wall-clock time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

PRELUDE = """
import json, threading
import numpy as np
import callaudio as ca

def tone(rate, frames, seed, level=0.3):
    rng = np.random.default_rng(seed)
    n = rate // 100
    t = np.arange(frames * n) / rate
    x = level * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)
    return x.astype(np.float32).reshape(frames, n)

def run(threads):
    errors = []
    def wrap(fn):
        def inner():
            try:
                fn()
            except BaseException as e:  # report, do not hide
                errors.append(repr(e))
        return inner
    ts = [threading.Thread(target=wrap(f)) for f in threads]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors
"""


def run_scenario(body: str, timeout: float = 240.0) -> dict:
    code = PRELUDE + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"scenario hung (no result within {timeout} s)")
    assert proc.returncode == 0, (
        f"scenario died with return code {proc.returncode}\n{proc.stderr[-3000:]}"
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_four_threads_on_process_capture(rate):
    """The crash of issue 13: 4 threads on process_capture of one processor."""
    res = run_scenario(
        f"""
        rate, per_thread = {rate}, 500
        vp = ca.VoiceProcessor(rate)
        frames = tone(rate, per_thread, 1)
        worst = [0.0]
        finite = [True]
        def capture():
            out = np.empty(rate // 100, np.float32)
            for f in frames:
                vp.process_capture(f, out=out)
                finite[0] &= bool(np.all(np.isfinite(out)))
                worst[0] = max(worst[0], float(np.max(np.abs(out))))
        errors = run([capture] * 4)
        print(json.dumps(dict(errors=errors, finite=finite[0], peak=worst[0],
                              frames=vp.stats.capture_frames)))
        """
    )
    assert res["errors"] == []
    assert res["finite"]
    assert res["peak"] <= 10 ** (-1.0 / 20)  # the limiter's default threshold, -1 dBFS
    assert res["frames"] == 4 * 500  # serialised: every call processed exactly once


def test_capture_against_reset_and_reset_echo_path():
    """The other crash of issue 13: reset() while another thread is in process_capture."""
    res = run_scenario(
        """
        rate = 48000
        vp = ca.VoiceProcessor(rate, channels=2)
        frames = tone(rate, 1000, 2)
        done = threading.Event()
        bad = [0]
        def capture():
            out = np.empty((480, 2), np.float32)
            for k, f in enumerate(frames):
                if k in (0, 500):  # resets before and during the frames, also when a
                    did_reset.clear()  # loaded machine schedules the resetters late
                    did_reset.wait(10.0)
                vp.process_render(f)
                vp.process_capture(np.stack([f, 0.5 * f], 1), out=out)
                if not np.all(np.isfinite(out)) or np.max(np.abs(out)) > 1.0:
                    bad[0] += 1
            done.set()
        resets = [0]
        did_reset = threading.Event()
        def resetter():
            while not done.is_set():
                vp.reset() if resets[0] % 2 else vp.reset_echo_path()
                resets[0] += 1
                did_reset.set()
        errors = run([capture, resetter, resetter])
        print(json.dumps(dict(errors=errors, bad=bad[0], resets=resets[0],
                              frames=vp.stats.capture_frames)))
        """
    )
    assert res["errors"] == []
    assert res["bad"] == 0
    assert res["resets"] > 0
    assert res["frames"] == 1000


@pytest.mark.parametrize("rate", [16000, 44100])
def test_render_thread_and_capture_thread_hand_over_without_tearing(rate):
    """Render on one thread, capture on another: with each far frame rendered before its
    capture (the render side may run ahead, as a playback thread does), the output equals
    that of one thread alternating render and capture, bit for bit (at 44.1 kHz too: each
    path resamples with its own state)."""
    res = run_scenario(
        f"""
        rate, n = {rate}, {rate // 100}
        far = tone(rate, 400, 3)
        # the microphone hears the far signal 30 ms later, attenuated, plus noise
        flat = far.reshape(-1)
        mic = (0.5 * np.concatenate([np.zeros(3 * n, np.float32), flat[:-3 * n]])
               + 0.01 * tone(rate, 400, 4, level=0.0).reshape(-1)).astype(np.float32)
        mic = mic.reshape(400, n)
        ref = ca.VoiceProcessor(rate)
        expected = np.empty_like(mic)
        for k in range(400):
            ref.process_render(far[k])
            expected[k] = ref.process_capture(mic[k])
        vp = ca.VoiceProcessor(rate)
        got = np.empty_like(mic)
        ahead = threading.Semaphore(0)
        room = threading.Semaphore(40)  # the render queue holds 50 frames
        def render():
            for k in range(400):
                room.acquire()
                vp.process_render(far[k])
                ahead.release()
        def capture():
            out = np.empty(n, np.float32)
            for k in range(400):
                ahead.acquire()
                vp.process_capture(mic[k], out=out)
                got[k] = out
                room.release()
        errors = run([render, capture])
        s = vp.stats
        print(json.dumps(dict(errors=errors, same=bool(np.array_equal(got, expected)),
                              render=s.render_frames, capture=s.capture_frames)))
        """
    )
    assert res["errors"] == []
    assert res["same"]
    assert res["render"] == 400 and res["capture"] == 400


def test_render_capture_and_a_third_thread_changing_things():
    """The contract's stress case: render thread + capture thread + a third thread that
    resets, resets the echo path, changes the configuration and reads stats."""
    res = run_scenario(
        """
        from dataclasses import replace
        rate, frames_n = 32000, 400
        base = ca.ProcessingConfig()
        configs = [base, replace(base, noise_suppressor=ca.NoiseSuppressorConfig(level_db=20)),
                   replace(base, echo_canceller=ca.EchoCancellerConfig(enabled=False)),
                   replace(base, gain_control=ca.GainControlConfig(target_level_dbfs=-25))]
        vp = ca.VoiceProcessor(rate)
        far = tone(rate, frames_n, 5)
        mic = (0.7 * far + tone(rate, frames_n, 6, level=0.05)).astype(np.float32)
        done = threading.Event()
        bad, stats_bad, changes = [0], [0], [0]
        did_change = threading.Event()
        def render():
            for k in range(frames_n):
                vp.process_render(far[k])
        def capture():
            out = np.empty(320, np.float32)
            for k in range(frames_n):
                if k in (0, frames_n // 2):  # changes before and during the frames, also
                    did_change.clear()  # when a loaded machine schedules meddle() late
                    did_change.wait(10.0)
                vp.process_capture(mic[k], out=out)
                if not np.all(np.isfinite(out)) or np.max(np.abs(out)) > 1.0:
                    bad[0] += 1
            done.set()
        def meddle():
            i = 0
            while not done.is_set():
                op = i % 4
                if op == 0:
                    vp.reset()
                elif op == 1:
                    vp.reset_echo_path()
                elif op == 2:
                    vp.apply_config(configs[(i // 4) % len(configs)])
                    changes[0] += 1
                    did_change.set()
                s = vp.stats
                if not (0 <= s.capture_frames <= frames_n and 0 <= s.render_frames <= frames_n):
                    stats_bad[0] += 1
                for v in (s.output_level_dbfs, s.gain_db, s.erle_db, s.speech_level_dbfs):
                    if v is not None and not np.isfinite(v):
                        stats_bad[0] += 1
                i += 1
        errors = run([render, capture, meddle])
        s = vp.stats
        print(json.dumps(dict(errors=errors, bad=bad[0], stats_bad=stats_bad[0],
                              changes=changes[0], capture=s.capture_frames,
                              render=s.render_frames)))
        """
    )
    assert res["errors"] == []
    assert res["bad"] == 0
    assert res["stats_bad"] == 0
    assert res["changes"] > 0
    assert res["capture"] == 400 and res["render"] == 400


def test_close_while_other_threads_process():
    """close() from a third thread: the frame in flight finishes, later calls raise
    InvalidStateError (a CallAudioError), nothing crashes."""
    res = run_scenario(
        """
        rate = 48000
        vp = ca.VoiceProcessor(rate)
        frames = tone(rate, 2000, 7)
        started = threading.Barrier(3)
        outcome = {}
        def path(name, fn):
            def go():
                started.wait()
                n = 0
                try:
                    for f in frames:
                        fn(f)
                        n += 1
                    outcome[name] = "finished"
                except ca.CallAudioError:
                    outcome[name] = "closed"
            return go
        def closer():
            started.wait()
            vp.close()
        errors = run([path("render", vp.process_render), path("capture", vp.process_capture),
                      closer])
        print(json.dumps(dict(errors=errors, outcome=outcome, latency=vp.latency_samples)))
        """
    )
    assert res["errors"] == []
    assert set(res["outcome"].values()) <= {"finished", "closed"}
    assert res["latency"] > 0
