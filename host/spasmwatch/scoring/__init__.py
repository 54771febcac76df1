"""Scoring detected episodes against ground truth: one-to-one matching, metrics, tables, folders of recordings."""
