"""``python -m dslsim``: the same as the ``dslsim`` command."""

from dslsim.cli.entry import main

if __name__ == "__main__":
    main()
