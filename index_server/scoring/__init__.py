"""Judging a pair: its named features (anchors, title tokens, gates, record, image), the pair
scorers that turn them into a probability (a protocol and a registry; the calibrated logistic
one with its chunk-wide bound), calibration."""
