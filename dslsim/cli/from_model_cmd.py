"""``dslsim trace from-model``: the trace of a static model file (its ops, one inference per call)."""

from __future__ import annotations

import click

from dslsim.cli.trace_cmd import _seconds


@click.command("from-model")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--rate", required=True, help="Inferences per second ('2', '2 Hz', '50 Hz').")
@click.option("--duration", default="60 s", show_default=True, help="Length, with a unit ('90 s', '24 h').")
@click.option("--dead-channels", type=click.Choice(["keep", "skip"]), default="keep", show_default=True,
              help="'skip': count no MACs for output channels whose weights are all zero (runtimes that prune).")
def from_model(model, out, rate, duration, dead_channels):
    """Write a trace of a static model: one path, one stage per op (kind, MACs, weight and activation bytes).

    MODEL is a TensorFlow Lite flatbuffer (.tflite) or an op table (.csv or .yaml with name, kind, macs,
    weight_bytes, act_in_bytes, act_out_bytes, dtype). Ops of kinds the reader does not know are kept as
    'generic' (bytes, no MACs) and listed.

    \b
    Examples:
      dslsim trace from-model dslsim/data/models/mlperf-tiny/kws_ref_model.tflite kws.parquet --rate "2 Hz" --duration "1 h"
      dslsim simulate -p stm32u575 -t kws.parquet
      dslsim trace from-model my-ops.csv mine.parquet --rate "50 Hz"
    """
    from pathlib import Path

    from dslsim.trace.model_ops import read_model_ops
    from dslsim.trace.io import write_trace
    from dslsim.trace.optable import model_trace
    from dslsim.trace.tflite import read_tflite
    from dslsim.units import parse_quantity

    bare = rate.strip().replace(".", "", 1).isdigit()
    hz = parse_quantity(f"{rate} Hz" if bare else rate, "Hz", "--rate", "", strictly_positive=True)
    path = Path(model)
    ops = read_model_ops(path, dead_channels)
    unknown = read_tflite(path).unknown if path.suffix == ".tflite" else ()
    t = model_trace(ops, hz, _seconds(duration, "duration"),
                    source={"model": str(path), "dead_channels": dead_channels, "importer": "dslsim trace from-model"})
    write_trace(t, out)
    macs = t.meta.path_macs("inference")
    click.echo(f"wrote {out}: {len(t):,} inferences at {hz:g} Hz, {len(ops)} ops, {macs / 1e6:.4g} MMAC and "
               f"{sum(op.weight_bytes for op in ops) / 1e3:.1f} kB of weights per inference")
    if unknown:
        click.echo(f"  {len(unknown)} op(s) of unknown kind kept as 'generic' (bytes only): {', '.join(unknown)}")
