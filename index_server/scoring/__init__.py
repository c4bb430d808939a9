"""Judging a pair: features (level cosines, idf, codes, lexical, image), the calibrated
verifier and its chunk-wide bounds, calibration."""
