"""Stage IV: the key tasks' evaluation splits translated into the 80 languages (NLLB)."""
