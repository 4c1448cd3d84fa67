"""Categories, modes and options: Apple's ``AVAudioSession`` vocabulary and validity rules.

``validate_configuration`` is the one place that checks a (category, mode, options)
triple; :class:`SessionConfiguration` is the value a snapshot holds and restore puts back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import ConfigError, InvalidCategoryOptionsError

__all__ = [
    "ALLOWED_OPTIONS",
    "MODE_CATEGORIES",
    "Category",
    "CategoryOptions",
    "Mode",
    "SessionConfiguration",
    "flag_names",
    "validate_configuration",
]


class Category(enum.Enum):
    """The session category (Apple's ``AVAudioSession.Category``)."""

    AMBIENT = "ambient"
    SOLO_AMBIENT = "solo_ambient"
    PLAYBACK = "playback"
    RECORD = "record"
    PLAY_AND_RECORD = "play_and_record"
    MULTI_ROUTE = "multi_route"

    @property
    def can_play(self) -> bool:
        """Whether this category has an output (everything but RECORD)."""
        return self is not Category.RECORD

    @property
    def can_record(self) -> bool:
        """Whether this category has an input."""
        return self in (Category.RECORD, Category.PLAY_AND_RECORD, Category.MULTI_ROUTE)


class Mode(enum.Enum):
    """The session mode (Apple's ``AVAudioSession.Mode``)."""

    DEFAULT = "default"
    VOICE_CHAT = "voice_chat"
    VIDEO_CHAT = "video_chat"
    GAME_CHAT = "game_chat"
    MEASUREMENT = "measurement"
    MOVIE_PLAYBACK = "movie_playback"
    VIDEO_RECORDING = "video_recording"
    SPOKEN_AUDIO = "spoken_audio"
    VOICE_PROMPT = "voice_prompt"

    @property
    def voice_processing(self) -> bool:
        """Whether the mode runs the voice-processing chain (AEC, NS, AGC).

        VOICE_CHAT, VIDEO_CHAT and GAME_CHAT do; MEASUREMENT bypasses all processing;
        the others do not process either.
        """
        return self in (Mode.VOICE_CHAT, Mode.VIDEO_CHAT, Mode.GAME_CHAT)


class CategoryOptions(enum.IntFlag):
    """Category options (Apple's ``AVAudioSession.CategoryOptions``).

    The bit values are Apple's except ``INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS``,
    which Apple defines as ``0x11`` (its own bit plus MIX_WITH_OTHERS); here it is its own
    bit and :func:`validate_configuration` adds MIX_WITH_OTHERS, as for DUCK_OTHERS.
    """

    NONE = 0
    MIX_WITH_OTHERS = 0x1
    DUCK_OTHERS = 0x2
    ALLOW_BLUETOOTH = 0x4
    DEFAULT_TO_SPEAKER = 0x8
    INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS = 0x10
    ALLOW_BLUETOOTH_A2DP = 0x20
    ALLOW_AIR_PLAY = 0x40


_O = CategoryOptions
_MIXING = _O.MIX_WITH_OTHERS | _O.DUCK_OTHERS | _O.INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS

#: The options each category accepts (Apple's rules). AMBIENT accepts none: it always mixes.
ALLOWED_OPTIONS: dict[Category, CategoryOptions] = {
    Category.AMBIENT: _O.NONE,
    Category.SOLO_AMBIENT: _O.NONE,
    Category.PLAYBACK: _MIXING,
    Category.RECORD: _O.ALLOW_BLUETOOTH,
    Category.PLAY_AND_RECORD: _MIXING
    | _O.ALLOW_BLUETOOTH
    | _O.DEFAULT_TO_SPEAKER
    | _O.ALLOW_BLUETOOTH_A2DP
    | _O.ALLOW_AIR_PLAY,
    Category.MULTI_ROUTE: _MIXING,
}

_ANY = frozenset(Category)
#: The categories each mode may be used with (Apple's mode documentation).
MODE_CATEGORIES: dict[Mode, frozenset[Category]] = {
    Mode.DEFAULT: _ANY,
    Mode.MEASUREMENT: _ANY,
    Mode.VOICE_CHAT: frozenset({Category.PLAY_AND_RECORD}),
    Mode.VIDEO_CHAT: frozenset({Category.PLAY_AND_RECORD}),
    Mode.GAME_CHAT: frozenset({Category.PLAY_AND_RECORD}),
    Mode.MOVIE_PLAYBACK: frozenset({Category.PLAYBACK}),
    Mode.VIDEO_RECORDING: frozenset({Category.RECORD, Category.PLAY_AND_RECORD}),
    Mode.SPOKEN_AUDIO: frozenset({Category.PLAYBACK, Category.PLAY_AND_RECORD}),
    Mode.VOICE_PROMPT: frozenset({Category.PLAYBACK, Category.PLAY_AND_RECORD}),
}


def flag_names(flags: CategoryOptions) -> str:
    """``"A|B"`` for the set flags of ``flags`` (``"NONE"`` when none)."""
    return "|".join(f.name for f in CategoryOptions if f and f in flags and f.name) or "NONE"


def mode_for(category: Category, current: Mode) -> Mode:
    """The mode kept when switching to ``category``: ``current`` if allowed, else DEFAULT."""
    return current if category in MODE_CATEGORIES.get(current, _ANY) else Mode.DEFAULT


def validate_configuration(
    category: Category, mode: Mode, options: CategoryOptions
) -> CategoryOptions:
    """Check a (category, mode, options) triple against Apple's rules.

    Returns
    -------
    CategoryOptions
        ``options`` normalised: DUCK_OTHERS and INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS
        imply MIX_WITH_OTHERS, which is added.

    Raises
    ------
    InvalidCategoryOptionsError
        Naming the category and the options (or mode) it does not accept.
    """
    if not isinstance(category, Category):
        raise ConfigError("category", f"must be a Category, got {category!r}")
    if not isinstance(mode, Mode):
        raise ConfigError("mode", f"must be a Mode, got {mode!r}")
    known = sum(CategoryOptions)
    # int's own value: a subclass's __int__ may raise (a RuntimeError came out of it)
    value = int.__index__(options) if isinstance(options, int) else None
    if isinstance(options, bool) or value is None or value & ~known:
        raise ConfigError("options", f"not CategoryOptions: {options!r}")
    options = CategoryOptions(value)
    invalid = options & ~ALLOWED_OPTIONS[category]
    if invalid:
        names = flag_names(invalid)
        raise InvalidCategoryOptionsError(
            "options",
            category.name,
            names,
            f"{names} not allowed with category {category.name}"
            + (" (AMBIENT always mixes with others)" if category is Category.AMBIENT else ""),
        )
    if category not in MODE_CATEGORIES[mode]:
        allowed = ", ".join(sorted(c.name for c in MODE_CATEGORIES[mode]))
        raise InvalidCategoryOptionsError(
            "mode",
            category.name,
            mode.name,
            f"mode {mode.name} not allowed with category {category.name} (only {allowed})",
        )
    if options & (_O.DUCK_OTHERS | _O.INTERRUPT_SPOKEN_AUDIO_AND_MIX_WITH_OTHERS):
        options |= _O.MIX_WITH_OTHERS
    return options


@dataclass(frozen=True)
class SessionConfiguration:
    """What a snapshot holds and restore puts back: category, mode and options."""

    category: Category = Category.SOLO_AMBIENT
    mode: Mode = Mode.DEFAULT
    options: CategoryOptions = CategoryOptions.NONE

    def __str__(self) -> str:
        return f"{self.category.name}/{self.mode.name}/{flag_names(self.options)}"
