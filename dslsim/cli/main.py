"""Entry point: ``dslsim`` and its command groups; turns input errors into one paragraph and exit code 2."""

from __future__ import annotations

import importlib
import os
import sys

import click

from dslsim import __version__
from dslsim.errors import DslsimError


class _Root(click.Group):
    """Click group that reports :class:`DslsimError` without a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DslsimError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written was left on disk.", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # The reader went away (e.g. '| head'): stop quietly, as Unix tools do on SIGPIPE.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug, not bad input: say so plainly, traceback only on request
            if os.environ.get("DSLSIM_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                       "This is a bug in dslsim; set DSLSIM_DEBUG=1 to see the traceback and please report it.",
                       err=True)
            ctx.exit(3)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dslsim")
def cli() -> None:
    """dslsim: latency, always-on power and battery life of a dynamic network on a device.

    \b
    Example:
      dslsim simulate --profile watch --trace dsl-75hz-10min
    """


#: Each command: the module that defines it, its name there, and its subcommands (added when it loads). A
#: command's module is imported only when the command runs (or help lists every command): ``dslsim simulate``
#: does not pay for importing what ``sweep``, ``model`` or ``report`` need.
COMMANDS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "simulate": ("dslsim.cli.simulate_cmd", "simulate", ()),
    "compare": ("dslsim.cli.compare_cmd", "compare", ()),
    "compare-measured": ("dslsim.cli.measured_cmd", "compare_measured", ()),
    "sweep": ("dslsim.cli.sweep_cmd", "sweep", ()),
    "report": ("dslsim.cli.report_cmd", "report", ()),
    "trace": ("dslsim.cli.trace_cmd", "trace", (("dslsim.cli.from_model_cmd", "from_model"),
                                               ("dslsim.cli.compose_cmd", "compose"),
                                               ("dslsim.cli.score_cmd", "score"))),
    "profiles": ("dslsim.cli.profiles_cmd", "profiles", ()),
    "calibrate": ("dslsim.cli.validate_cmd", "calibrate", ()),
    "validate": ("dslsim.cli.validate_cmd", "validate", ()),
    "train": ("dslsim.cli.model_cmd", "train", ()),
    "model": ("dslsim.cli.model_cmd", "model", (("dslsim.cli.early_exit_cmd", "early_exit"),)),
}


def load_command(name: str) -> click.Command:
    """The command registered as ``name`` in :data:`COMMANDS`, imported (with its subcommands) on first use."""
    module, attr, subcommands = COMMANDS[name]
    command = getattr(importlib.import_module(module), attr)
    if isinstance(command, click.Group):
        for sub_module, sub_attr in subcommands:
            sub = getattr(importlib.import_module(sub_module), sub_attr)
            if sub.name not in command.commands:
                command.add_command(sub)
    return command


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; an interrupt outside a command's own handling also exits 130 quietly."""
    try:
        cli.main(args=argv, prog_name="dslsim", standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
