# ray-tenants as a containerised KRM function (kpt `image:`, kustomize `container:`).
#
#   podman build -t localhost/ray-tenants:0.1.0 .        (or docker build)
#   kpt fn eval PKG --image localhost/ray-tenants:0.1.0 --fn-config tenants.yaml
#
# (kpt expands a name without a registry, such as ray-tenants:0.1.0, to gcr.io/kpt-fn/ray-tenants.)
# BASE: a Debian-style image with python3 and its venv module; python:3.12-slim by default.
# KEEP_SCHEMAS: the Kubernetes schema versions kept from kubernetes-validate's data, which ships
# every version since 1.25 (about 100 MB): "supported" (the default: the three newest minors it
# ships, the ones the Kubernetes project still maintains), "latest" (only the newest), "all", or
# a list such as "1.32.0 1.37.0".
ARG BASE=docker.io/library/python:3.12-slim

FROM ${BASE} AS builder
ARG KEEP_SCHEMAS=supported
# PIP_CERT: pip on python:*-slim trusts certifi only; the system bundle is where a build behind a
# TLS-intercepting proxy mounts its CA.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
WORKDIR /src
# The dependencies first, from the metadata alone, so that a change to the code rebuilds only the
# layer below; setuptools and wheel too, so that it builds without fetching anything (--no-build-isolation).
COPY pyproject.toml ./
COPY krm_fn/__init__.py krm_fn/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir /src "setuptools>=61" "wheel>=0.40" \
 && schemas="$(/opt/venv/bin/python -c 'import kubernetes_validate as k, pathlib; print(pathlib.Path(k.__file__).parent / "kubernetes-json-schema")')" \
 && keep="$KEEP_SCHEMAS" \
 && if [ "$keep" = latest ] || [ "$keep" = supported ]; then \
      keep="$(/opt/venv/bin/python -c 'import sys; from kubernetes_validate.utils import all_versions as a; v = sorted(set(a()), key=lambda x: tuple(map(int, x.split(".")))); print(*v[-(3 if sys.argv[1] == "supported" else 1):])' "$keep")"; \
    fi \
 && if [ "$keep" != all ]; then \
      for dir in "$schemas"/v*; do \
        version="${dir##*/v}"; version="${version%%-*}"; \
        case " $keep " in *" $version "*) ;; *) rm -rf "$dir" ;; esac; \
      done; \
    fi \
 && ls -d "$schemas"/v*
COPY . .
# pip, setuptools, wheel and the activate scripts go: the final stage runs the function and
# installs nothing. pip leaves the bytecode compiled, which matters: the function runs as nobody
# and could not write it at run time (every start would compile again). The CEL package's
# command-line tool and its terminal libraries go too: the check imports only the evaluator.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation --force-reinstall /src \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet typer rich prompt_toolkit pygments click \
      shellingham markdown-it-py mdurl wcwidth \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools wheel \
 && rm -rf /opt/venv/bin/activate* /opt/venv/bin/Activate.ps1 \
 && /opt/venv/bin/ray-tenants --version

FROM ${BASE}
LABEL org.opencontainers.image.title="ray-tenants" \
      org.opencontainers.image.description="KRM function: per-namespace Ray clusters behind Istio, with Spot placement for workers" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1
# kpt and kustomize run functions as nobody; be nobody by default too, numerically so that
# Kubernetes' runAsNonRoot can verify it.
USER 65534:65534
ENTRYPOINT ["/opt/venv/bin/ray-tenants"]
