"""Stage II, part two: short answers rewritten into sentences by an LLM, with a template fallback.

Does: the prompt and output filter (prompt.py), the OpenAI-compatible client with limits, retries and
budget (llm.py), chunked resumable runs with a shared spending ledger (runner.py), pages, API, tasks.
Reads: pending samples. Writes: Sample.outputs and provenance, ParaphraseCache, ParaphraseBudget.
"""
