"""Command-line arguments the project's tools share."""
import argparse

from mmengine.config import DictAction


def checkpoint_tool_parser(description: str, out_help: str) -> argparse.ArgumentParser:
    """A parser for a tool that reads ``CONFIG CHECKPOINT`` and writes ``--out``, with
    ``--cfg-options key=value ...`` (mmengine's ``DictAction``) applied to the config; the
    tool adds its own arguments."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help=out_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, key=value')
    return parser
