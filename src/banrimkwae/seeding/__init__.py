"""Row generators behind `banrimkwae.seed`: one module per part of the resort.

Each generator is a pure function of its arguments and a `random.Random`; none touches the
database. `banrimkwae.seed` chains them and writes their rows.
"""
