"""The ``dslsim`` command line (click). Commands import heavy modules lazily so ``--help`` is instant."""
