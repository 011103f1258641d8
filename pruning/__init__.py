"""pruning: the PyTorch front-end — models, data, training, crossbar-aware pruning and export.

It builds layout bundles for :mod:`rram_sim` (which never imports this package or torch). One
home per concern:

- models, data, training, checkpoints, masks: :mod:`pruning.models`, :mod:`pruning.data`,
  :mod:`pruning.train`, :mod:`pruning.checkpoint`, :mod:`pruning.masks`;
- ``torch.fx`` tracing and BatchNorm folding: :mod:`pruning.tracing`;
- channel coupling across residual adds: :mod:`pruning.coupling`;
- group granularities (one module each, a registry): :mod:`pruning.granularities`; the groups,
  their scores and removal: :mod:`pruning.groups`;
- pruning methods (one module each, a registry): :mod:`pruning.methods`; the round runner of
  ReaLPrune and its baselines: :mod:`pruning.realprune` (run folders: :mod:`pruning.rounds`,
  crossbar figures of a mask: :mod:`pruning.hardware`); AUTO-PRUNE's search:
  :mod:`pruning.autoprune`;
- export to a bundle: :mod:`pruning.export`; layers run on simulated crossbars:
  :mod:`pruning.xbar_layers`; the ``rram-prune`` command line: :mod:`pruning.cli`; the demo:
  :mod:`pruning.demo`;
- from a torch model to a report in one call: :func:`to_report` (export + :func:`rram_sim.simulate
  .simulate`), or to a bundle: :func:`to_bundle` (docs/python-api.md).

``import pruning`` itself imports no torch (the command line's ``--help`` stays fast); the two
functions import what they need when called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rram_sim.bundle import Bundle
    from rram_sim.config import Config
    from rram_sim.report import Report

__version__ = "0.1.0"


def to_bundle(model: Any, example_input: Any, chip: str | os.PathLike | Config = "edge",
              scheme: str = "dense", *, masks: Any = None, path: str | os.PathLike | None = None,
              golden: bool = True, allow_multi_chip: bool = False,
              eval_set: tuple[Any, Any] | None = None) -> Bundle:
    """Map a torch model onto a chip: the layout bundle ``rram-prune export`` writes.

    ``model``: any ``nn.Module`` the export understands (see docs/frontend.md); it is copied,
    never changed. ``example_input``: one image ``[C, H, W]`` or a batch ``[B, C, H, W]``
    (tensor or array): its shape sizes the layers, its values become the golden vectors.
    ``chip``: a preset name, a YAML file or a :class:`rram_sim.config.Config` (default: ``edge``,
    as on the command line). ``scheme``: ``dense``, ``compact`` or ``ou`` (default: ``dense``).
    ``masks``: a :class:`pruning.masks.Masks` or ``{parameter name: bool array}`` (True keeps a
    weight). ``path``: also save the bundle there. ``eval_set``: ``(images [N, C, H, W], labels
    [N])`` of a test split, stored in the bundle so that the simulator measures the network's
    accuracy on the crossbars (``rram-prune export --eval-samples N``)."""
    import torch

    from pruning.export import export_bundle
    from pruning.masks import Masks
    from rram_sim import config

    cfg = chip if isinstance(chip, config.Config) else config.load(chip)
    x = torch.as_tensor(example_input).float()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if masks is not None and not isinstance(masks, Masks):
        masks = Masks(dict(masks))
    return export_bundle(model, masks, cfg, scheme, x, path, golden=golden,
                         allow_multi_chip=allow_multi_chip, eval_set=eval_set,
                         eval_source="to_bundle(eval_set=...)" if eval_set is not None else "")


def to_report(model: Any, example_input: Any, chip: str | os.PathLike | Config = "edge",
              scheme: str = "dense", passes: str | Sequence[str] = "inference", *,
              masks: Any = None, batch: int | Mapping[str, int] | None = None,
              overflow: str | None = None, bundle_path: str | os.PathLike | None = None,
              report_path: str | os.PathLike | None = None,
              allow_multi_chip: bool = False, eval_set: tuple[Any, Any] | None = None) -> Report:
    """From a torch model and an example input to a :class:`rram_sim.report.Report`: the model
    mapped onto ``chip`` under ``scheme`` (:func:`to_bundle`), then timed by
    :func:`rram_sim.simulate.simulate` for ``passes`` (``inference``, ``training`` or ``both``;
    default ``inference``, as ``rram-sim simulate``). ``batch`` and ``overflow`` go to
    ``simulate``; ``bundle_path`` / ``report_path`` also save the bundle / the report files
    (``report.json``, ``records.csv``, ``intervals.csv``). With ``eval_set`` (``(images,
    labels)``) the report also holds the network's top-1 accuracy on the crossbars and exactly
    quantized (``report.figures["accuracy"]``, :func:`rram_sim.accuracy.evaluate`). See
    docs/python-api.md."""
    from rram_sim.simulate import simulate

    bundle = to_bundle(model, example_input, chip, scheme, masks=masks, path=bundle_path,
                       allow_multi_chip=allow_multi_chip, eval_set=eval_set)
    report = simulate(bundle, bundle.config, passes, batch=batch, overflow=overflow)
    if eval_set is not None:
        from rram_sim.accuracy import evaluate

        report.figures["accuracy"] = evaluate(bundle).to_dict()
    if report_path is not None:
        report.save(report_path)
    return report


__all__ = ["__version__", "to_bundle", "to_report"]
