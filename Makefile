# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
NPM ?= npm
NODE_STAMP := node_modules/.installed
DIST_STAMP := webui/static/dist/.built
FRONTEND_SRC := $(wildcard frontend/*)

.PHONY: run test test-pg lint clean assets fonts

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Front-end packages come from package-lock.json only; --ignore-scripts: nothing runs at install time
# (esbuild's native binary is an ordinary optional npm dependency).
$(NODE_STAMP): package-lock.json package.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# Bundles (bpmn-js diagram viewer, ...) into webui/static/dist/, which is git-ignored: built here, never committed.
$(DIST_STAMP): $(NODE_STAMP) $(FRONTEND_SRC)
	$(NPM) run --silent build
	touch $@

# Everything the app serves that is generated from sources.
# The English message catalogue compile (webui/translations/.../messages.mo) belongs here too, as another
# prerequisite of `assets`.
MO := webui/translations/en/LC_MESSAGES/messages.mo
$(MO): webui/translations/en/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d webui/translations

assets: $(DIST_STAMP) $(MO)

# The PDF font (process/fonts.py): DejaVu Sans from Debian's fonts-dejavu-core, installed here when it is missing
# and this runs as root with apt-get; otherwise the message says what to install (or set ALUR_FONT_DIR).
fonts:
	@dir="$${ALUR_FONT_DIR:-/usr/share/fonts/truetype/dejavu}"; \
	if [ ! -f "$$dir/DejaVuSans.ttf" ] || [ ! -f "$$dir/DejaVuSans-Bold.ttf" ]; then \
	  if [ -z "$$ALUR_FONT_DIR" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== installing Debian fonts-dejavu-core (the font of the PDF records) =="; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq fonts-dejavu-core >/dev/null 2>&1 || \
	      { apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null; }; \
	  else \
	    echo "The PDF font DejaVu Sans is missing in $$dir: install it with 'sudo apt-get install" \
	      "fonts-dejavu-core', or set ALUR_FONT_DIR to a folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf." >&2; \
	    exit 1; \
	  fi; \
	fi

run: $(STAMP) assets fonts
	$(BIN)/alur init-db --demo
	@# The deadline worker runs beside the web app and stops with it.
	$(BIN)/alur worker --loop & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/alur serve --host $(HOST) --port $(PORT)

test: $(STAMP) assets fonts
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check --no-cache engine process webui ops bench tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules webui/static/dist test-artifacts
