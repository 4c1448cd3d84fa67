"""The noise suppressor inside the chain (AEC + NS, silent far end) in babble and cafe
noise: never worse than the input (issue 16), worst PESQ gain over the chain test's draw
(tests/test_chain_ns_quality.py); make soak only (CALLAUDIO_SOAK=1)."""

from __future__ import annotations

import pytest

from test_chain_ns_quality import BABBLE_FLOOR, worst_gain

from ._support import soak_only

pytestmark = soak_only


@pytest.mark.parametrize("rate", [16000, 48000], ids=["16k", "48k"])
@pytest.mark.parametrize("kind", ["babble", "cafe"])
def test_chain_ns_not_worse_than_the_input_in_babble(rate: int, kind: str) -> None:
    gain, label = worst_gain(rate, kind)
    assert gain >= BABBLE_FLOOR[rate], (label, gain)
