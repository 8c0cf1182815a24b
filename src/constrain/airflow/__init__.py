"""Apache Airflow's constraints: where they are published, how to reconstruct them, how they layer with the user's files and policies.

:mod:`.published` (pure) decides which published file a resolve wants; :mod:`.layers` builds
the constraints of each target (:mod:`.plan`) from that file (:mod:`.files`: published or
reconstructed), the user's files, overrides and policy bounds; :mod:`.reconstruction` rebuilds
the file a release would have published for a newer Python, with :mod:`.probes` reading the
release and :mod:`.moves` (pure) deciding which packages move and why. They reach the index and the
resolver only through the Protocols of :mod:`.ports`, never through ``app``.
"""
