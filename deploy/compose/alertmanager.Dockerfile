# Alertmanager for the compose workflow, from Debian's prometheus-alertmanager package
# (0.25 in bookworm) rather than a registry's prom/alertmanager: it builds on engines
# that reach no registry, given a local debian:bookworm-slim (scripts/base-images.sh).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus-alertmanager \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /alertmanager /etc/alertmanager \
 && chown 65534:65534 /alertmanager
COPY alertmanager.yml /etc/alertmanager/alertmanager.yml
# nobody:nogroup, by number so the engine need not look the name up
USER 65534:65534
VOLUME ["/alertmanager"]
EXPOSE 9093
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
# One instance, no cluster gossip: the compose stack has a single Alertmanager.
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--cluster.listen-address="]
