"""The RabbitMQ management HTTP API, as far as the lab uses it: the server's version, a queue's counts, policies.

It authenticates with the user and password of RABBITMQ_URL. Its queue counts are refreshed once per
statistics interval (5 s by default), so the lab reads them only where nothing exact is at hand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class ManagementUnavailable(RuntimeError):
    """The API did not answer, or refused the request; the message says which."""


class ManagementApi:
    def __init__(self, url: str, username: str, password: str, timeout_s: float = 2.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, auth=(username, password), timeout=timeout_s)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ManagementUnavailable(f"no answer from {self.url} ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise ManagementUnavailable(f"{self.url} refused the user of RABBITMQ_URL ({response.status_code})")
        return response

    def version(self) -> str:
        """The server's RabbitMQ version, e.g. "3.10.8"."""
        response = self._request("GET", "/api/overview")
        try:
            return str(response.json()["rabbitmq_version"])
        except (ValueError, KeyError, TypeError):
            raise ManagementUnavailable(f"{self.url}/api/overview is not a RabbitMQ management API") from None

    def queue(self, vhost: str, name: str) -> dict[str, Any] | None:
        """The queue's statistics, or None when it does not exist."""
        response = self._request("GET", f"/api/queues/{_part(vhost)}/{_part(name)}")
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def put_policy(self, vhost: str, name: str, definition: dict[str, Any]) -> None:
        response = self._request("PUT", f"/api/policies/{_part(vhost)}/{_part(name)}", definition)
        if not response.is_success:
            raise ManagementUnavailable(f"{self.url} refused policy {name!r}: {response.status_code} {response.text}")

    def delete_policy(self, vhost: str, name: str) -> None:
        response = self._request("DELETE", f"/api/policies/{_part(vhost)}/{_part(name)}")
        if not response.is_success and response.status_code != 404:
            raise ManagementUnavailable(f"{self.url} kept policy {name!r}: {response.status_code}")

    def close(self) -> None:
        self._http.close()


def _part(text: str) -> str:
    """One percent-encoded path segment (the default virtual host `/` is `%2F`)."""
    return quote(text, safe="")
