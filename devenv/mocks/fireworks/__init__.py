"""A mock of the Fireworks AI inference API, for local stacks and tests.

It serves what apps call (chat completions with text, images, tools, JSON modes and streaming;
completions; embeddings; models) under both ``/inference/v1`` and ``/v1``, answers
deterministically (a hash of the normalised request) unless a stub from the stub directory
matches, answers errors in Fireworks' body shapes, injects faults on demand and keeps a bounded
journal. Control endpoints live under ``/__devenv/``.

Library entry points (imported lazily so importing this package stays cheap)::

    from devenv.mocks.fireworks.app import MockConfig, FireworksMock   # the ASGI app
    from devenv.mocks.fireworks.server import MockServer, run          # running it
"""
