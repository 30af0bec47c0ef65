"""The database side of devenv: migrations, seeds (SQL, data files, GoTrue auth users), reset and
snapshots, on psycopg 3.

Every function takes a superuser DSN and paths, not a Config, so ``devenv up``, the CLI, the pytest
plugin and the benchmarks call the same code. Submodules import psycopg; import them where used.
"""
