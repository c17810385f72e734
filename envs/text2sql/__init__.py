"""TextToSQL: answer questions by exploring a real database in a read-only DuckDB sandbox and submitting SQL.

Data modules: :mod:`.databases` (Chinook, nycflights13, seeded synthetic schemas and Spider/BIRD
databases, each built once into a cached DuckDB file) and :mod:`.tasks` (seeded questions with gold
SQL whose results are checked at generation).
"""
