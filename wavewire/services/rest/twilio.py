"""Twilio hang-up: update the call's status to ``completed`` (the REST call a bot makes
when it ends a Media Streams session; the stream's ``callSid`` comes from
:attr:`~wavewire.serializers.twilio.TwilioSerializer.call_sid`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._http import RestClient, Secret, import_httpx

if TYPE_CHECKING:
    import httpx

__all__ = ["TwilioClient"]

_ALREADY_ENDED = 20404  # Twilio error: the requested resource was not found


class TwilioClient(RestClient):
    """Twilio's REST API with HTTP basic auth: the account SID and its auth token, or an
    API key SID and secret."""

    service = "twilio"
    default_base_url = "https://api.twilio.com"

    def __init__(
        self,
        account_sid: str,
        auth_token: str | None = None,
        *,
        api_key_sid: str | None = None,
        api_key_secret: str | None = None,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        if auth_token and (api_key_sid or api_key_secret):
            raise ValueError("twilio: give auth_token or api_key_sid + api_key_secret, not both")
        if auth_token:
            self._login, self._password = account_sid, Secret(auth_token)
        elif api_key_sid and api_key_secret:
            self._login, self._password = api_key_sid, Secret(api_key_secret)
        else:
            raise ValueError("twilio: need auth_token, or api_key_sid and api_key_secret")
        super().__init__(
            [self._password], base_url=base_url, client=client, transport=transport, timeout=timeout
        )
        self.account_sid = account_sid

    def __repr__(self) -> str:
        return f"TwilioClient(account_sid={self.account_sid!r}, base_url={self.base_url!r})"

    def _auth(self) -> Any:
        return import_httpx().BasicAuth(self._login, self._password.reveal())

    async def hang_up(self, call_sid: str) -> bool:
        """End the call. True if it was ended now, False if it had already ended."""
        path = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call_sid}.json"
        status, body = await self._request(
            "POST", path, form={"Status": "completed"}, ok=(200, 201, 404)
        )
        if status == 404:
            if isinstance(body, dict) and body.get("code") == _ALREADY_ENDED:
                return False
            raise self._error(f"twilio: POST {path}", status, body)
        return True
