"""The compiled voice-processing core (built from csrc/callaudio/_dsp/*.pyx)."""
