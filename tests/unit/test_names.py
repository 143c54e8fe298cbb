"""Things on screen go by the diagram's names, with their units: never a raw knob id or target id."""

from sandbox.model.commands import TARGETS, Kill, Latency, Set
from sandbox.model.knobs import KNOBS
from sandbox.present.diagram import TITLES
from sandbox.present.names import knob_label, knob_value, moment_words, target_label


def test_every_knob_has_its_own_label_in_words_with_its_unit():
    labels = {key: knob_label(key) for key in KNOBS}
    assert len(set(labels.values())) == len(labels)  # no two knobs look the same
    assert labels["http.timeout_s"] == "service-to-service HTTP: timeout (s)"
    assert labels["load.reads_per_s"] == "load: reads per second"
    assert labels["consumer.prefetch"] == "cache-worker: prefetch (messages)"
    assert labels["services.blog.workers"] == "Blog Service: workers"  # no "workers (workers)"
    for key, label in labels.items():
        assert key not in label and "_" not in label, (key, label)
        unit = KNOBS[key].unit
        assert not unit or unit in label or label.endswith("per second"), (key, label)


def test_targets_and_moments_use_the_diagrams_names():
    assert {target_label(t) for t in TARGETS} >= {title.replace("\n", " ") for name, title in TITLES.items()
                                                  if name in TARGETS}
    assert target_label("broker") == "RabbitMQ" and target_label("broker-2") == "RabbitMQ node broker-2"
    assert moment_words(Kill("user")) == "kill User Service"
    assert moment_words(Latency("redis", 200.0, variant="sync")) == "latency Redis 200 ms [sync]"
    assert moment_words(Set("consumer.work_ms", 50.0)) == "set cache-worker: work per message to 50 ms"
    assert moment_words(Set("publish.confirms", False)) == "set author's publish: confirms to off"
    assert knob_value("client.timeout_s", 2000.0) == "2,000 s"
