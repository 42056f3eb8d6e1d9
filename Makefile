# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv when it is
# missing and (re)install the project when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: demo test eval bench bench-search bench-corpus lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: ingest the bundled sample corpus into data/ (SQLite) and serve the web page with a demo login
demo: $(STAMP)
	$(BIN)/xuncha demo --host 127.0.0.1 --port $(PORT)

## test: lint, type-check and run the test suite
test: $(STAMP)
	$(BIN)/ruff check nlp service evaluation tests
	$(BIN)/mypy nlp service
	$(BIN)/pytest -q

## eval: the product through its CLI on both real dev sets (the figures to report), then the scoring scripts
eval: $(STAMP)
	$(BIN)/python ../shared/tools/score_real.py ../shared/eval-dev-2
	$(BIN)/python ../shared/tools/score_real.py ../shared/eval-dev
	$(BIN)/python evaluation/score_heldout.py
	$(BIN)/python evaluation/score_pipeline.py
	$(BIN)/python evaluation/score_search.py
	$(BIN)/python evaluation/score_clusters.py
	$(BIN)/python evaluation/score_findings.py
	$(BIN)/python evaluation/score_stats.py
	$(BIN)/python evaluation/score_tags.py

## bench: ingest speed (PDF backends, segmenters); OCR pages/s and a 20-page scanned report end to end;
## search latency at 10k findings with query encoding
bench: $(STAMP)
	$(BIN)/python evaluation/bench_ingest.py
	cd evaluation && ../$(BIN)/python bench_ocr.py
	cd evaluation && ../$(BIN)/python bench_search.py --sizes 10000

## bench-search: search latency at 10k and 100k findings (the first 100k run embeds for ~30 min, then cached)
bench-search: $(STAMP)
	cd evaluation && ../$(BIN)/python bench_search.py --sizes 10000,100000

## bench-corpus: store, search and clustering at 10k and 100k synthetic findings (several minutes)
bench-corpus: $(STAMP)
	$(BIN)/python evaluation/bench_corpus.py --sizes 10000,100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
