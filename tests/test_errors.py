"""callaudio's exceptions cross process boundaries: each one pickles and copies with its
message and fields (a process pool or a Dask worker sends it back to the caller)."""

from __future__ import annotations

import concurrent.futures as cf
import copy
import multiprocessing
import pickle

import pytest

import callaudio as ca
from callaudio import errors as E

ERRORS = [
    E.ConfigError("channels", "must be within [1, 32], got 99"),
    E.ConfigTypeError("loop", "must be a bool, got 1"),
    E.FrameError("mic must be a numpy array, got list"),
    E.InvalidStateError("establish", "ENDED", "the call ended"),
    E.InvalidCategoryOptionsError("options", "PLAYBACK", "ALLOW_BLUETOOTH", "not with PLAYBACK"),
    E.ActivationError("the device is held", holder="pstn"),
    E.SessionBusyError("deactivated while audio I/O ran"),
    E.BackendError("start_duplex", "no device"),
    E.SoundFileError("hold.wav", "missing", "no such file"),
    E.DeviceError("open", "busy", device="hw:0", hostapi="ALSA", host_error="-16"),
    E.CallbackError(2, [ValueError("x")], ["Traceback ...\n"]),
]

HOW = {
    "pickle": lambda e: pickle.loads(pickle.dumps(e)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


def _fields(e: BaseException) -> dict[str, object]:
    return {k: repr(v) for k, v in vars(e).items()}


@pytest.mark.parametrize("how", sorted(HOW))
@pytest.mark.parametrize("err", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_pickles_and_copies_with_its_message_and_fields(err, how):
    got = HOW[how](err)
    assert type(got) is type(err)
    assert str(got) == str(err) and got.args == err.args
    assert _fields(got) == _fields(err)
    assert isinstance(got, ca.CallAudioError)


def test_a_subclass_with_notes_keeps_them_through_pickle():
    err = E.ConfigError("rate", "out of range")
    err.add_note("while reading a.wav")
    got = pickle.loads(pickle.dumps(err))
    assert got.__notes__ == ["while reading a.wav"] and got.field == "rate"


def _refused_processor() -> None:
    ca.VoiceProcessor(16000, channels=99)


def test_an_error_raised_in_a_process_pool_reaches_the_caller_and_the_pool_lives_on():
    # the worker's ConfigError failed to unpickle in the parent: the pool broke
    # (BrokenProcessPool) and every later job failed with it
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        with pytest.raises(ca.ConfigError, match="channels") as info:
            pool.submit(_refused_processor).result(timeout=120)
        assert info.value.field == "channels"
        assert pool.submit(abs, -3).result(timeout=120) == 3
