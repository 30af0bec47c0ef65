"""devenv: a local Supabase-style development stack, from one command.

The library API lives in the subpackages (``devenv.stack``, ``devenv.db``, ``devenv.envfile``,
``devenv.mocks.fireworks``); ``devenv.cli`` is a thin Typer layer over it. This module stays
import-free so ``devenv --version`` is fast.
"""

__version__ = "0.1.0"
