"""Fuzzing tiphub's command line with hostile files and tables.

The generators build mutated import files (``imports``), adversarial capture-history and
linkage tables (``tables``) from synthetic seeds that carry planted identity markers
(``markers``, ``seeds``); ``harness`` runs each case through the real ``tiphub`` command in a
forked child and classifies what happened. ``bench/fuzz.py`` and ``tests/test_fuzz.py`` share
this machinery.
"""
