#!/usr/bin/env bash
# Debian's headless LibreOffice Writer for the .doc/.wps/.rtf conversion (nlp/extract/office.py) and
# its tests, which run the real converter; and libGL and GLib, which an OpenCV build may load (the OCR
# engine, rapidocr 3, uses the headless one, which needs at most GLib: both kept as a cheap safeguard).
# Installed only when missing, quietly.
set -euo pipefail
libs=$(ldconfig -p)  # read once: grep -q on a pipe would end ldconfig early, a failure under pipefail
if ! command -v soffice >/dev/null 2>&1 || [[ "$libs" != *"libGL.so.1"* ]] || [[ "$libs" != *"libglib-2.0.so.0"* ]]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-writer-nogui libgl1 libglib2.0-0 >/dev/null
fi
