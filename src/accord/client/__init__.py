"""The Python SDK: talk to Accord nodes over HTTP; verify what they answer before trusting it."""

from accord.client.http import NodeClient
from accord.client.sourcekey import SourceKey, generate_source_key

__all__ = ["NodeClient", "SourceKey", "generate_source_key"]
