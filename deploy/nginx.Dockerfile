# Debian's nginx with deploy/nginx.conf.template, in front of the `app` service (compose.yaml).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /run/stepper/body /run/stepper/proxy \
    /run/stepper/fastcgi /run/stepper/uwsgi /run/stepper/scgi
COPY deploy/nginx.conf.template deploy/nginx-conf.sh /etc/stepper/
# `app` resolves to every replica when nginx starts (not at build time: no test here)
RUN sh /etc/stepper/nginx-conf.sh 0.0.0.0:8500 /run/stepper app:8501 > /etc/stepper/nginx.conf
EXPOSE 8500
CMD ["nginx", "-c", "/etc/stepper/nginx.conf", "-p", "/run/stepper", "-g", "daemon off;"]
