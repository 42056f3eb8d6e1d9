"""xuncha's service layer: the CLI now; storage, API and web page later. Imports ``nlp``, never the reverse."""
