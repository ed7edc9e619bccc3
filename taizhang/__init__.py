"""taizhang (台账): wiring, settings and the command line.

The packages beside this one hold the substance: ``domain`` (pure rules),
``crypto`` (keys and ciphers), ``projections``, ``replay`` and ``api``.
"""
