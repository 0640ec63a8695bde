import pytest

from elicitation.clientaddr import address_from


def test_without_trusted_proxies_the_peer_address_is_the_client():
    assert address_from(remote="10.0.0.9", forwarded_for="1.2.3.4", trusted_hops=0) == "10.0.0.9"


def test_behind_one_proxy_the_address_it_appended_is_the_client():
    assert address_from(remote="10.0.0.9", forwarded_for="1.2.3.4", trusted_hops=1) == "1.2.3.4"


def test_a_forwarded_for_header_written_by_the_client_is_ignored():
    spoofed = "6.6.6.6, 1.2.3.4"
    assert address_from(remote="10.0.0.9", forwarded_for=spoofed, trusted_hops=1) == "1.2.3.4"


@pytest.mark.parametrize("hops", [1, 3])
def test_a_missing_header_falls_back_to_the_leftmost_known_address(hops):
    assert address_from(remote="10.0.0.9", forwarded_for="", trusted_hops=hops) == "10.0.0.9"
