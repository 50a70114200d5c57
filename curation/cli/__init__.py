"""The `curation` command line: a thin layer over the library, one module per stage. Errors surface here as one
`Error: ...` line (`common.friendly`)."""

from __future__ import annotations

import click

from curation.cli import annotation, clusters, corpus, demo, export, finetune, model, server


@click.group()
@click.version_option(package_name="curation")
def main():
    """Curate machine-translation candidates into a clean EN→ES training set with Argilla and SetFit."""


for command in (
    server.server,
    demo.demo,
    annotation.setup,
    model.train,
    corpus.score,
    corpus.slice_command,
    clusters.cluster,
    finetune.finetune,
    finetune.compare,
    export.export_command,
):
    main.add_command(command)
