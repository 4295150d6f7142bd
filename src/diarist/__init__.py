"""Diarist: self-hosted speaker diarization ("who spoke when") for AWS, with a local mode."""

__version__ = "0.1.0"
