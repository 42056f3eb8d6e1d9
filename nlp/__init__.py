"""xuncha's NLP pipeline: file -> extracted text -> normalised text -> structure -> findings.

The pipeline is pure: no database, no web. `service/` imports it, never the reverse.
"""

__version__ = "0.1.0"
