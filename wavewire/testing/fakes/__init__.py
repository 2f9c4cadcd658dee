"""Shipped fakes of the providers wavewire speaks to: loopback servers that follow
``protocols.md`` exactly (paths, auth, message shapes, close codes, timeouts), are
deterministic, and can be told to fail. Users' tests, the examples and the benchmarks run
against them; ``wavewire fake NAME`` runs one from the command line.

Import each fake from its module (``wavewire.testing.fakes.openai`` …): nothing is
imported here, so a fake costs nothing until used.
"""
