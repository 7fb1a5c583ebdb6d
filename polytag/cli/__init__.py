"""The ``polytag`` command line: train, evaluate, predict, serve, info and init-config.

Sub-commands import what they need when they run (see :mod:`polytag.cli.main`).
"""
