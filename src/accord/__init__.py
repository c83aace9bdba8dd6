"""Accord: a ledger for organizations that share and audit records without trusting one another."""

__version__ = "0.1.0"
