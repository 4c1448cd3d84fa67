"""Tests of the session layer: session, calls, interruptions, client, controller, tones."""
