import pytest
from django.core.exceptions import ImproperlyConfigured

from eventbus.conversion import to_envelope
from eventbus.subscriptions import (
    all_subscriptions,
    get_subscription,
    matching_subscriptions,
    subscribe,
)
from eventbus.testing import RecordingHandler, temporary_subscription
from tests.eventbus.sample_events import SHIPPING, ParcelShipped


def handler(event, envelope):
    """A handler for subscription tests."""


@pytest.mark.parametrize(
    "name",
    ["", "has space", "-leading-dash", "dotted.name", "x" * 49, "ünïcode", "slash/name"],
)
def test_names_that_aws_would_refuse_are_rejected(name):
    with pytest.raises(ImproperlyConfigured, match="subscription name"):
        subscribe(name=name, pattern=SHIPPING)


def test_an_invalid_pattern_is_rejected_naming_the_bad_part():
    with pytest.raises(ImproperlyConfigured, match=r"'bad-pattern'.*detail\.weight_grams"):
        subscribe(name="bad-pattern", pattern={"detail": {"weight_grams": 5}})
    with pytest.raises(LookupError):
        get_subscription("bad-pattern")


def test_the_same_name_for_another_handler_is_rejected():
    with temporary_subscription(name="shipping-audit", pattern=SHIPPING):

        def another_handler(event, envelope):
            pass

        with pytest.raises(ImproperlyConfigured, match="used twice"):
            subscribe(name="shipping-audit", pattern=SHIPPING)(another_handler)


def test_temporary_subscription_matches_while_registered_and_leaves_no_trace():
    envelope = to_envelope(ParcelShipped(parcel_id="P1", weight_grams=300)).to_dict()
    with temporary_subscription(
        name="heavy-parcels",
        pattern={**SHIPPING, "detail": {"weight_grams": [{"numeric": [">=", 200]}]}},
    ) as subscription:
        assert isinstance(subscription.handler, RecordingHandler)
        assert [item.name for item in matching_subscriptions(envelope)] == ["heavy-parcels"]
        light = {**envelope, "detail": {**envelope["detail"], "weight_grams": 100}}
        assert matching_subscriptions(light) == []
    assert matching_subscriptions(envelope) == []
    assert "heavy-parcels" not in {item.name for item in all_subscriptions()}


def test_description_is_the_first_docstring_line():
    with temporary_subscription(name="described", pattern=SHIPPING, handler=handler) as sub:
        assert sub.description == "A handler for subscription tests."


def test_app_subscriptions_are_registered_at_startup():
    names = {item.name for item in all_subscriptions()}
    assert "cart-projection" in names
