"""The contract's JSON with exact decimals: ``apiclient.wire``, which both services' clients share."""

from apiclient.wire import NotJSONError, dumps, loads, to_data, utc_z

__all__ = ["NotJSONError", "dumps", "loads", "to_data", "utc_z"]
