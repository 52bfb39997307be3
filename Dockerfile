# The GRU stepper as a server a forum link can point at:
#   docker build -t gru-stepper . && docker run -p 8501:8501 gru-stepper
# Settings (README, "Host it for a forum or a class"): GRU_STEPPER_CACHE_MB (memory for traces),
# GRU_STEPPER_PUBLIC_URL (the address forum posts link to), STREAMLIT_SERVER_BASE_URL_PATH.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 GRU_STEPPER_CACHE_MB=2560 MALLOC_ARENA_MAX=2
WORKDIR /app

# CPU-only torch from PyTorch's own index first (PyPI's default build pulls gigabytes of CUDA),
# then the rest, pinned; torch==2.13.0 in requirements.txt is then already satisfied.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install -r requirements.txt

COPY . .
RUN pip install --no-deps --no-build-isolation -e . \
    && useradd --create-home stepper && chown -R stepper /app
USER stepper

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
# dashboard.warm opens every question's link once the server answers, so that the first visitor
# waits for none of the imports, models and traces (README, "Benchmarks"); then the CMD runs.
ENTRYPOINT ["sh", "-c", "python -m dashboard.warm & exec \"$@\"", "warm"]
# Hosted settings (README, "Host it"): visitors see an error's type, never its traceback and the
# server's paths; no Deploy button or developer menu; no file watcher (nothing is edited here).
CMD ["streamlit", "run", "dashboard/app.py", "--server.port=8501", "--server.address=0.0.0.0", \
     "--server.headless=true", "--browser.gatherUsageStats=false", \
     "--client.showErrorDetails=type", "--client.toolbarMode=viewer", \
     "--server.fileWatcherType=none"]
