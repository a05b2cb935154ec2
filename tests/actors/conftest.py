"""Engine tests, a folder per engine folder.

``engine_harness`` (beside this file) runs an engine in virtual time.
"""
