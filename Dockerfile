# Post Office Lab's sandbox in a container. `docker compose up -d` runs it next to RabbitMQ and Redis
# (see docker-compose.yml); on its own: docker build -t post-office-lab . && docker run --init -p 127.0.0.1:8501:8501 post-office-lab
FROM python:3.11-slim

# PYTHONPATH: `streamlit run` puts the script's folder on sys.path, not the project's.
# SANDBOX_LAB_DIR: `python -m sandbox lab up` keeps its state there; the code itself stays read-only.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    SANDBOX_LAB_DIR=/tmp/post-office-lab

WORKDIR /app

# Dependencies first, so this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# The project belongs to root; the app runs as `lab` and writes only to /tmp (lab databases, logs) and its home.
RUN groupadd --gid 10001 lab \
    && useradd --uid 10001 --gid lab --create-home --shell /usr/sbin/nologin lab
USER 10001:10001

EXPOSE 8501

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

CMD ["streamlit", "run", "sandbox/ui/app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--browser.gatherUsageStats", "false", "--server.headless", "true"]
