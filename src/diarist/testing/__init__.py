"""Test doubles shipped with the package, so local mode and the tests share them:
``fake_engine`` (a deterministic diarizer) and ``fake_launcher`` (a launcher that starts nothing)."""
