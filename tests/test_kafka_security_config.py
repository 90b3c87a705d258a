"""FOOTFALL_KAFKA_* -> librdkafka security settings (no broker needed)."""

from pathlib import Path

import pytest

from eventschema.kafka_contract import (
    KafkaCluster,
    KafkaSecurityError,
    consumer_config,
    producer_config,
    security_config,
)

SASL = {
    "FOOTFALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "FOOTFALL_KAFKA_SASL_USERNAME": "api",
    "FOOTFALL_KAFKA_SASL_PASSWORD": "s3cret-value",
}


def test_no_settings_means_plaintext_without_credentials() -> None:
    assert security_config({}) == {}
    assert security_config({"FOOTFALL_KAFKA_SECURITY_PROTOCOL": "plaintext"}) == {
        "security.protocol": "PLAINTEXT"
    }


def test_sasl_defaults_to_scram_sha_512_and_reaches_producers_and_consumers() -> None:
    expected = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "api",
        "sasl.password": "s3cret-value",
    }
    assert security_config(SASL) == expected
    assert expected.items() <= producer_config(KafkaCluster.from_env("b:9092", SASL), 5).items()
    assert expected.items() <= consumer_config(KafkaCluster.from_env("b:9092", SASL), "g").items()


def test_password_file_and_tls_files(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    env = {
        "FOOTFALL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "FOOTFALL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "FOOTFALL_KAFKA_SASL_USERNAME": "sink",
        "FOOTFALL_KAFKA_SASL_PASSWORD_FILE": str(secret),
        "FOOTFALL_KAFKA_SSL_CA_LOCATION": "/ca.pem",
        "FOOTFALL_KAFKA_SSL_CERTIFICATE_LOCATION": "/cert.pem",
        "FOOTFALL_KAFKA_SSL_KEY_LOCATION": "/key.pem",
    }
    assert security_config(env) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "sink",
        "sasl.password": "from-a-file",
        "ssl.ca.location": "/ca.pem",
        "ssl.certificate.location": "/cert.pem",
        "ssl.key.location": "/key.pem",
    }


@pytest.mark.parametrize(
    "env",
    [
        {"FOOTFALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},  # no credentials
        {**SASL, "FOOTFALL_KAFKA_SASL_PASSWORD_FILE": "/x"},  # both password sources
        {**SASL, "FOOTFALL_KAFKA_SASL_MECHANISM": "PLAIN"},  # clear-text password, no TLS
        {**SASL, "FOOTFALL_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},  # credentials never sent
        {**SASL, "FOOTFALL_KAFKA_SECURITY_PROTOCOL": "SASL_SCRAM"},
        {**SASL, "FOOTFALL_KAFKA_SASL_PASSWORD": "", "FOOTFALL_KAFKA_SASL_PASSWORD_FILE": "/nope"},
    ],
)
def test_bad_settings_are_refused_without_echoing_the_password(env: dict[str, str]) -> None:
    with pytest.raises(KafkaSecurityError) as refused:
        security_config(env)
    assert "s3cret-value" not in str(refused.value)
