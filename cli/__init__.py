"""The ``impressox`` command line (see README.md)."""
