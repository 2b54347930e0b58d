"""Digests: what an analyst reads, built from the store and the campaign alerts, delivered by config.

model.py        the Digest record (plain values, nothing escaped)
build.py        the queries that fill a Digest from the store and the detector
sql.py          the window's posts (gathered once) and the SQL the queries share
chart.py        posts per day of each listed tag, for the HTML chart
render_md.py    Markdown (also the e-mail's text part)
render_html.py  one self-contained HTML page with an inline SVG chart
render_json.py  JSON (what the webhook posts)
deliver.py      file, webhook and e-mail targets, from the configuration only
state.py        what each target has been sent, so no alert is sent twice
job.py          one digest per target: build, deliver, record (`digest --send`, the scheduler)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedwatch.digest.deliver import ConfigLike


def run_scheduled(config: ConfigLike) -> str:
    """The scheduled digest job (see feedwatch.digest.job.run_scheduled)."""
    from feedwatch.digest.job import run_scheduled as run

    return run(config)
