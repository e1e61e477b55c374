"""Samples as people browse them, and which instruction each sample gets.

Does: filtered keyset pages (browse.py), the seeded rendezvous draw of a sample's instruction and
redraws after pool changes (selection.py), the samples pages and API.
Reads: Sample rows and the task's instruction pool. Writes: Sample.instruction on draws.
"""
