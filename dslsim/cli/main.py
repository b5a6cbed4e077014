"""Entry point: ``dslsim`` and its command groups; turns input errors into one paragraph and exit code 2."""

from __future__ import annotations

import os
import sys

import click

from dslsim import __version__
from dslsim.errors import DslsimError


class _Root(click.Group):
    """Click group that reports :class:`DslsimError` without a traceback."""

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


def _register() -> None:
    from dslsim.cli.compare_cmd import compare
    from dslsim.cli.compose_cmd import compose
    from dslsim.cli.early_exit_cmd import early_exit
    from dslsim.cli.from_model_cmd import from_model
    from dslsim.cli.measured_cmd import compare_measured
    from dslsim.cli.model_cmd import model, train
    from dslsim.cli.profiles_cmd import profiles
    from dslsim.cli.report_cmd import report
    from dslsim.cli.score_cmd import score
    from dslsim.cli.simulate_cmd import simulate
    from dslsim.cli.sweep_cmd import sweep
    from dslsim.cli.trace_cmd import trace
    from dslsim.cli.validate_cmd import calibrate, validate

    for command in (simulate, compare, compare_measured, sweep, report, trace, profiles, calibrate, validate, train,
                    model):
        cli.add_command(command)
    model.add_command(early_exit)
    trace.add_command(from_model)
    trace.add_command(compose)
    trace.add_command(score)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; an interrupt outside a command's own handling also exits 130 quietly."""
    try:
        cli.main(args=argv, prog_name="dslsim", standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
