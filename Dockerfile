# SPDX-License-Identifier: Apache-2.0
# smolserve container image: one image serves any model, read from a mounted folder.
#
#   docker build -t smolserve .
#   docker run --rm -p 3000:3000 --cpus 2 -v /path/to/all-MiniLM-L6-v2:/models/model:ro smolserve
#   docker run ... -v /path/to/bge-small:/models/bge -e MODEL_ID=/models/bge smolserve --auto-truncate
#   docker run ... -v hf-cache:/data smolserve --model-id BAAI/bge-small-en-v1.5   # from the Hub
#
# Both stages run scripts from deploy/docker/, which tests/deploy/run.sh runs the same way in
# debootstrap chroots (no Docker engine needed to prove them): keep the RUN lines calling them.
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build: compilers and -dev packages, a release build, the binary under /opt/smolserve ----
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY . .
RUN bash deploy/docker/build.sh /opt/smolserve

# ---- runtime: the shared libraries and the binary, nothing else ----
FROM ${DEBIAN_IMAGE} AS runtime
COPY deploy/docker/runtime-setup.sh deploy/docker/healthcheck.sh /tmp/smolserve-setup/
RUN bash /tmp/smolserve-setup/runtime-setup.sh && rm -rf /tmp/smolserve-setup
COPY --from=build /opt/smolserve/bin/smolserve /usr/local/bin/smolserve

# Settings: the variables smolserve reads (`smolserve --help` lists them all; a flag given as
# an argument wins over the variable). The model is a folder mounted at /models/<name>.
# HOSTNAME is not used in the image: Docker and Kubernetes set it to the container's own name,
# so the entrypoint passes --hostname 0.0.0.0; append `--hostname ::` for IPv6-only networks.
# JSON_OUTPUT=true: one JSON object per log line, for log collectors.
# HF_HUB_CACHE=/data: models named by Hub id (--model-id org/name) are downloaded into, or found
# in, this Hugging Face cache; mount a volume there to keep them across restarts (HF_TOKEN for
# gated models, HF_HUB_OFFLINE=true to never touch the network). LAYOUT_CACHE=/data/layout: the
# weights' layout for smolserve's kernel, kept for the next start (off when /data is read-only).
ENV MODEL_ID=/models/model \
    HF_HUB_CACHE=/data \
    LAYOUT_CACHE=/data/layout \
    PORT=3000 \
    MAX_CLIENT_BATCH_SIZE=32 \
    PAYLOAD_LIMIT=2000000 \
    MAX_BATCH_TOKENS=16384 \
    MAX_BATCH_REQUESTS=64 \
    MAX_BATCH_DELAY_US=2000 \
    MAX_CONCURRENT_REQUESTS=512 \
    WORKERS=0 \
    BLAS_THREADS=0 \
    SHUTDOWN_TIMEOUT_S=30 \
    JSON_OUTPUT=true
# OpenBLAS (Debian's libopenblas0-pthread, built for every x86-64 kernel set and choosing one
# at load), tuned with its own variables, none set here:
# - OPENBLAS_CORETYPE=Haswell|SkylakeX|Zen|...  forces a kernel set when detection picks a wrong
#   one (some hypervisors hide CPU features); `curl :3000/info` shows the one in use as
#   "blas_kernels", OPENBLAS_VERBOSE=2 prints it at start.
# - OPENBLAS_NUM_THREADS only sizes the thread pool OpenBLAS starts when loaded; smolserve then
#   sets the threads it uses itself (--blas-threads / BLAS_THREADS, derived from the container's
#   CPU quota when 0), so it never decides the count. Setting it to the same number as the CPU
#   limit avoids idle pool threads on nodes with many cores.
# - OPENBLAS_L2_SIZE overrides the detected L2 cache size (bytes) used to block the GEMM.
# - Do not set OMP_NUM_THREADS / GOTO_NUM_THREADS expecting an effect: this is the pthread build.

USER 10001:10001
EXPOSE 3000
# /health is 200 once the model computes, 503 while loading or draining. No curl in the image:
# the check is bash's /dev/tcp (deploy/docker/healthcheck.sh), reading PORT like the server.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/smolserve-healthcheck"]
# SIGTERM drains (at most SHUTDOWN_TIMEOUT_S) and exits 0; the binary is PID 1 and gets it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["smolserve", "serve", "--hostname", "0.0.0.0"]
