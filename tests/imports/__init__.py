"""Tests of bulk imports."""
