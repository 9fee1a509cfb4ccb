"""The `papermill.engine` entry point of joule-papermill (see pyproject.toml).

papermill has no entry point for parameter translators, but it loads every `papermill.engine` entry
point when it is imported. Loading this one imports joule_papermill, which registers the Lua
translator, so the plain `papermill -k joule` command and `papermill.execute_notebook` can inject
parameters into Joule notebooks. The engine itself is papermill's own nbclient engine.
"""
import sys

from papermill.engines import NBClientEngine


class JouleEngine(NBClientEngine):
    """papermill's nbclient engine, under the name "joule" (`--engine joule`); nothing differs."""


# When joule_papermill is what imported papermill, it is half-imported here and registers the
# translator itself as it finishes; otherwise import it now.
if "joule_papermill" not in sys.modules:
    import joule_papermill  # noqa: F401  (registers the Lua translator)
