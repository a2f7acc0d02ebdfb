import pytest

from config.celery_app import app

pytestmark = pytest.mark.django_db


def test_healthz_names_database_and_bus_up(client, settings):
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": "eventbus.backends.celery.CeleryBackend",
        "OPTIONS": {},
    }
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"] == {"status": "up"}
    assert body["checks"]["bus"]["status"] == "up"
    assert body["checks"]["bus"]["backend"] == "CeleryBackend"


def test_healthz_is_503_naming_an_unreachable_broker(client, settings, monkeypatch):
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": "eventbus.backends.celery.CeleryBackend",
        "OPTIONS": {},
    }
    # Nothing listens on port 1: the broker is down.
    for key in ("broker_url", "broker_write_url"):
        monkeypatch.setitem(app.conf, key, "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["bus"]["status"] == "down"
    assert "Error" in body["checks"]["bus"]["error"]


def test_request_id_is_taken_or_generated_and_echoed(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    # Anything that could forge a log line is replaced.
    assert client.get("/healthz", HTTP_X_REQUEST_ID="a\nb")["X-Request-ID"] != "a\nb"


@pytest.fixture
def broker_down(settings, monkeypatch):
    settings.EVENT_BUS = {
        **settings.EVENT_BUS,
        "BACKEND": "eventbus.backends.celery.CeleryBackend",
        "OPTIONS": {},
    }
    for key in ("broker_url", "broker_write_url"):
        monkeypatch.setitem(app.conf, key, "redis://:hunter2@127.0.0.1:1/0")


def test_an_anonymous_remote_caller_learns_what_is_down_but_not_why(client, broker_down):
    response = client.get("/healthz", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["bus"] == {"status": "down", "backend": "CeleryBackend"}
    assert body["checks"]["database"] == {"status": "up"}
    assert "127.0.0.1" not in response.content.decode()


def test_a_forged_x_forwarded_for_does_not_make_a_caller_local(client, broker_down):
    response = client.get("/healthz", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert "error" not in response.json()["checks"]["bus"]


def test_staff_learn_why(client, broker_down, django_user_model):
    client.force_login(
        django_user_model.objects.create_user(username="ops", password="x" * 12, is_staff=True)
    )

    response = client.get("/healthz", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 503
    assert "Error" in response.json()["checks"]["bus"]["error"]


def test_a_caller_on_this_machine_learns_why(client, broker_down):
    response = client.get("/healthz", REMOTE_ADDR="::1")

    assert "Error" in response.json()["checks"]["bus"]["error"]
