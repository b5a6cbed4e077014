"""``dslsim trace from-model``: the trace of a static or streaming model file (its ops, one call per frame)."""

from __future__ import annotations

import click

from dslsim.cli.trace_cmd import _seconds

#: Relative difference between an explicit --rate and the model's own rate that is worth a note.
_RATE_TOLERANCE = 1e-6


@click.command("from-model")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--rate", default=None,
              help="Calls per second ('2', '2 Hz', '50 Hz'). Optional for a model that states its own rate (a "
                   "microWakeWord model with its JSON manifest beside it); given anyway, it wins, with a note.")
@click.option("--duration", default="60 s", show_default=True, help="Length, with a unit ('90 s', '24 h').")
@click.option("--dead-channels", type=click.Choice(["keep", "skip"]), default="keep", show_default=True,
              help="'skip': count no MACs for output channels whose weights are all zero (runtimes that prune).")
def from_model(model, out, rate, duration, dead_channels):
    """Write a trace of a model: one path, one stage per op (kind, MACs, weight and activation bytes).

    MODEL is a TensorFlow Lite flatbuffer (.tflite, streaming models with state variables included), an ONNX model
    (.onnx, needs the 'onnx' extra) or an op table (.csv or .yaml with name, kind, macs, weight_bytes,
    act_in_bytes, act_out_bytes, dtype). Ops of kinds the reader does not know are kept as 'generic' (bytes, no
    MACs) and listed; what is not counted per call (an initialisation subgraph, folded constants) is said.

    \b
    Examples:
      dslsim trace from-model dslsim/data/models/mlperf-tiny/kws_ref_model.tflite kws.parquet --rate "2 Hz" --duration "1 h"
      dslsim simulate -p stm32u575 -t kws.parquet
      dslsim trace from-model .../pymicro_wakeword/models/okay_nabu.tflite nabu.parquet --duration "1 h"
      dslsim trace from-model detector.onnx det.parquet --rate "50 Hz"
      dslsim trace from-model my-ops.csv mine.parquet --rate "50 Hz"
    """
    from pathlib import Path

    from dslsim.errors import DslsimError
    from dslsim.trace.io import write_trace
    from dslsim.trace.model_ops import read_model
    from dslsim.trace.optable import model_trace
    from dslsim.units import parse_quantity

    path = Path(model)
    graph = read_model(path)
    own = graph.call_rate_hz
    if rate is None:
        if own is None:
            raise DslsimError(f"{path}: give --rate (calls per second, e.g. '2 Hz'); the model does not state how often "
                              "it is called (only a microWakeWord model with its JSON manifest beside it does).")
        hz = own
    else:
        bare = rate.strip().replace(".", "", 1).isdigit()
        hz = parse_quantity(f"{rate} Hz" if bare else rate, "Hz", "--rate", "", strictly_positive=True)
    ops = graph.ops_for(dead_channels)
    source = {"model": str(path), "dead_channels": dead_channels, "importer": "dslsim trace from-model",
              "call_rate_hz": hz, "call_rate_from": "--rate" if rate is not None else "model"}
    if own is not None:
        source.update(model_call_rate_hz=own, model_call_rate_basis=graph.rate_basis)
    t = model_trace(ops, hz, _seconds(duration, "duration"), source=source)
    write_trace(t, out)
    macs = t.meta.path_macs("inference")
    origin = f" (the model's own rate: {graph.rate_basis})" if rate is None else ""
    click.echo(f"wrote {out}: {len(t):,} calls at {hz:.4g} Hz{origin}, {len(ops)} ops, {macs:,.0f} MACs "
               f"({macs / 1e6:.4g} MMAC) and {sum(op.weight_bytes for op in ops) / 1e3:.1f} kB of weights per call")
    if rate is not None and own is not None and abs(hz - own) > _RATE_TOLERANCE * own:
        click.echo(f"  note: --rate {hz:.4g} Hz differs from the model's own {own:.4g} Hz ({graph.rate_basis}); "
                   f"the trace uses {hz:.4g} Hz")
    for note in graph.notes:
        click.echo(f"  note: {note}")
    if graph.unknown:
        click.echo(f"  {len(graph.unknown)} op(s) of unknown kind kept as 'generic' (bytes only): "
                   f"{', '.join(graph.unknown)}")
