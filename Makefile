# Steward — two commands on a fresh Debian 12 box (as root, or with sudo available):
#   make demo   installs what is missing, builds, runs the appliance on the bundled footage
#   make test   the same set-up, then the whole test suite
.PHONY: all deps apt-deps onnxruntime build test soak demo check-config bench bench-venv test-venv clean-vendor

ORT_VERSION  ?= 1.31.1
ARCH         := $(shell uname -m)
ORT_PLATFORM := $(if $(filter aarch64,$(ARCH)),manylinux_2_28_aarch64,manylinux_2_28_x86_64)
VENDOR       := vendor/onnxruntime
ORT_LIB      := $(VENDOR)/libonnxruntime.so.$(ORT_VERSION)
SUDO         := $(if $(filter 0,$(shell id -u)),,sudo)

APT_PACKAGES := pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools \
	libgstrtspserver-1.0-dev gstreamer1.0-rtsp python3-pip python3-venv unzip \
	chromium chromium-driver mosquitto

all: build

deps: apt-deps onnxruntime

# Installs only what is missing; `apt-get update` only when something is.
apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	else echo "system packages: all present"; fi
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust >= 1.92 (rustup) and re-run"; exit 1; }

# ONNX Runtime has no Debian package: its shared library comes from the PyPI wheel (MIT).
onnxruntime: $(ORT_LIB)

$(ORT_LIB):
	@mkdir -p $(VENDOR)/wheel
	python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
		--platform $(ORT_PLATFORM) --dest $(VENDOR)/wheel onnxruntime==$(ORT_VERSION)
	cd $(VENDOR) && unzip -o -q -j wheel/onnxruntime-$(ORT_VERSION)-*.whl 'onnxruntime/capi/libonnxruntime.so.*'
	ln -sf libonnxruntime.so.$(ORT_VERSION) $(VENDOR)/libonnxruntime.so
	rm -rf $(VENDOR)/wheel
	@echo "ONNX Runtime $(ORT_VERSION) in $(VENDOR)/"

build: deps
	cargo build --release --locked

# The Python reference `steward bench` compares against is checked too: its decoder must equal
# the golden outputs, or the comparison would be unfair.
test: build bench-venv test-venv
	cargo test --release --locked --workspace
	$(BENCH_VENV)/bin/python bench/reference.py --manifest models/nanodet-m-416-coco.toml --selftest

# The crash test at length: 50 SIGKILLs instead of the suite's 20 (about 7 minutes).
soak: build
	STEWARD_CRASHES=50 cargo test --release --locked -p steward --test crash_delivery -- --nocapture

demo: build
	./target/release/steward demo

check-config:
	./target/release/steward check-config $(CONFIG)

# Capacity of this box against its limits and the Python reference (BENCHMARKS.md). ARGS="--gop 25" etc.
bench: build bench-venv
	./target/release/steward bench --streams 16 $(ARGS)

# The Python reference loop `steward bench` compares against (bench/README.md): OpenCV + ONNX Runtime
# from PyPI in a venv of their own, made once (stamp file; again only if bench/requirements.txt changes).
BENCH_VENV := vendor/bench-venv

bench-venv: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed: bench/requirements.txt
	@python3 -c 'import ensurepip' 2>/dev/null || { echo "installing: python3-venv"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends python3-venv; }
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r bench/requirements.txt
	@touch $@
	@echo "bench venv in $(BENCH_VENV)/"

# Tools the tests call (control/tests/requirements.txt): openapi-spec-validator for the API document.
TEST_VENV := vendor/test-venv

test-venv: $(TEST_VENV)/.installed

$(TEST_VENV)/.installed: control/tests/requirements.txt
	python3 -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r control/tests/requirements.txt
	@touch $@
	@echo "test venv in $(TEST_VENV)/"

clean-vendor:
	rm -rf vendor
