"""The `feedwatch` command line: parse arguments, call the library, print.

Only this package imports click. Every FeedwatchError becomes one line on
stderr here; exit codes are 0 (ok), 1 (some inputs or sources failed) and
2 (bad usage). Each command lives in its own module and is added below.
"""

from __future__ import annotations

import click

from feedwatch import __version__
from feedwatch.cli.campaigns_cmd import campaigns_command
from feedwatch.cli.channels_cmd import channels_command
from feedwatch.cli.common import OneLineUsage
from feedwatch.cli.digest_cmd import digest_command
from feedwatch.cli.history_cmd import history_command
from feedwatch.cli.login_cmd import login_command
from feedwatch.cli.migrate_cmd import migrate_store_command
from feedwatch.cli.network_cmds import discover_command, echoes_command, network_command
from feedwatch.cli.parse_cmd import parse_command
from feedwatch.cli.poll_cmd import poll_command, run_command
from feedwatch.cli.progress import counted
from feedwatch.cli.serve_cmd import serve_command
from feedwatch.cli.store_cmds import export_command, ingest_command, search_command
from feedwatch.cli.watch_cmd import watch_command
from feedwatch.cli.worker_cmd import queue_command, worker_command
from feedwatch.store import schema


@click.group(
    cls=OneLineUsage,
    epilog="""\b
Examples:
  feedwatch parse seeds/004_01d4050f5de082cc.txt
  feedwatch parse --format dump - < pasted.txt""",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="feedwatch")
def main() -> None:
    """feedwatch: public Telegram channels as a searchable, alerting record."""
    schema.progress = counted  # a store upgraded by this command shows a bar on a terminal


main.add_command(parse_command)
main.add_command(poll_command)
main.add_command(run_command)
main.add_command(watch_command)
main.add_command(worker_command)
main.add_command(queue_command)
main.add_command(login_command)
main.add_command(ingest_command)
main.add_command(search_command)
main.add_command(export_command)
main.add_command(campaigns_command)
main.add_command(digest_command)
main.add_command(network_command)
main.add_command(discover_command)
main.add_command(echoes_command)
main.add_command(serve_command)
main.add_command(channels_command)
main.add_command(history_command)
main.add_command(migrate_store_command)
