"""Structure-aware fuzzing of imgio's readers: seeds, mutators, an exerciser and outcomes.

Used by ``tests/test_fuzz.py`` (hypothesis, bounded) and ``python -m benchmarks.fuzz``
(long mode, one child process per case). A reader family plugs in with one
:class:`~fuzzing.families.Family` entry: a seed builder and the mutators that suit it.
"""
