"""Shared helpers for the test suite: real servers started on free loopback ports."""
