# Two commands on a fresh machine: `make run` serves the app, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STREAMLIT_ARGS ?=
CORPUS ?= ../shared/data/tinyshakespeare.txt

.PHONY: run test install lint bench checkpoints

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# the project itself, editable: `import gru_core, dashboard` works from anywhere
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# `streamlit run dashboard/app.py $(STREAMLIT_ARGS)`, warmed for its first visitor from
# inside the server (dashboard/serve.py): imports, models and the links' traces done before it;
# two malloc arenas, as the Dockerfile sets, keep the server's memory lower and steadier
run: install
	MALLOC_ARENA_MAX=2 $(PY) -m dashboard.serve $(STREAMLIT_ARGS)

# pytest, Playwright and ruff (requirements-dev.txt), kept out of `make run`
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# what only the tests need besides (keras, tensorflow-cpu: ~300 MB)
$(VENV)/.installed-test: $(VENV)/.installed-dev requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps \
		$$(sed -n 's/^# no-deps: //p' requirements-test.txt)
	touch $@

test: install $(VENV)/.installed-test
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

bench: install $(VENV)/.installed-test
	$(PY) -m bench.trace_vs_gru
	$(PY) -m bench.keras_step
	$(PY) -m bench.jacobians
	$(PY) -m bench.step_latency

# Reproduce the shipped checkpoints (see checkpoints/README.md for times and figures).
checkpoints: install $(VENV)/.installed-test  # keras writes agreement-course.keras
	$(PY) -m gru_core.train --corpus $(CORPUS) --out checkpoints/shakespeare.pt \
		--layers 1 --hidden 256 --epochs 50 --dropout 0.3 --weight-drop 0.15 --ema 0.999 \
		--threads 1
	$(PY) -m gru_core.train --corpus $(CORPUS) --out checkpoints/shakespeare-2layer.pt \
		--layers 2 --hidden 256 --epochs 36 --dropout 0.3 --threads 1
	$(PY) -m gru_core.train --task agreement --out checkpoints/agreement.pt \
		--layers 1 --hidden 128 --epochs 16 --windows lines --weight-decay 0.01 \
		--focus ", w" --focus-weight 10 --threads 1
	# the lecture's GRU in Keras's GRU(reset_after=False) layout, written by Keras (KERAS_BACKEND=torch)
	$(PY) -m gru_core.train --cell course --task agreement --out checkpoints/agreement-course.keras \
		--layers 1 --hidden 128 --epochs 8 --windows lines --weight-decay 0.01 \
		--focus ", w" --focus-weight 10 --threads 1
	$(PY) -m gru_core.train --task agreement-words --out checkpoints/agreement-words.pt \
		--embedding 32 --hidden 64 --epochs 24 --windows lines --seq-len 32 \
		--weight-decay 0.01 --focus , --focus-weight 10 --threads 1
	$(PY) -m gru_core.train --cell rnn --corpus $(CORPUS) --out checkpoints/shakespeare-rnn.pt \
		--layers 1 --hidden 256 --epochs 40 --dropout 0.2 --lr 2e-3 --threads 1
	# the course's trigger-word model, small, on clips synthesised with espeak-ng and sox
	$(PY) -m gru_core.data.trigger checkpoints/trigger-word.keras
	$(PY) -m gru_core.train --cell rnn --task agreement --out checkpoints/agreement-rnn.pt \
		--layers 1 --hidden 128 --epochs 16 --windows lines --weight-decay 0.01 \
		--focus ", w" --focus-weight 10 --threads 1
