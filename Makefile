# Set-up is idempotent: each step is skipped when its stamp is newer than its inputs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup chat test model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned, so nothing resolves an unpinned (CUDA) torch.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,scale,milvus-server,train,ocr,plots,bench]'
	touch $@

setup: $(VENV)/.installed
	$(BIN)/virag model build

chat: setup
	$(BIN)/virag index seeds
	$(BIN)/virag chat --corpus seeds

test: setup
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) build *.egg-info
